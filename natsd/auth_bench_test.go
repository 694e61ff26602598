package natsd_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/natsd/natsdtest"
)

// fakeClient is a connection as Auth.Check sees it, without a server.
type fakeClient struct {
	opts server.ClientOpts
	desc string
	user *server.User
}

func (c *fakeClient) GetOpts() *server.ClientOpts                 { return &c.opts }
func (c *fakeClient) GetTLSConnectionState() *tls.ConnectionState { return nil }
func (c *fakeClient) RegisterUser(u *server.User)                 { c.user = u }
func (c *fakeClient) RemoteAddress() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
}
func (c *fakeClient) GetNonce() []byte { return nil }
func (c *fakeClient) GetID() uint64    { return 1 }
func (c *fakeClient) Kind() int        { return server.CLIENT }
func (c *fakeClient) String() string   { return c.desc }

// A reconnecting device costs a cache lookup, not a bcrypt verification.
func BenchmarkCheckCached(b *testing.B) {
	devs := &deviceTable{hashes: map[string]string{"tag-1": mustHash(b, "tag-1-secret-0123456789")}}
	auth := natsd.NewAuth(natsd.AuthOptions{ServiceSecret: testServiceSecret, Devices: devs})
	c := &fakeClient{desc: "127.0.0.1:1 - mid:1", opts: server.ClientOpts{Username: "tag-1", Password: "tag-1-secret-0123456789"}}
	if !auth.Check(c) {
		b.Fatal("refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		if !auth.Check(c) {
			b.Fatal("refused")
		}
	}
	if v := auth.Stats().Verifications; v != 1 {
		b.Errorf("%d verifications, want 1", v)
	}
}

// BenchmarkDisconnect removes 1,000 devices from a server holding 2,000
// connections, one Disconnect a device (a pass over every client each)
// against one for all. The devices named hold no connection, so every
// iteration finds the server as the last one left it.
func BenchmarkDisconnect(b *testing.B) {
	srv, _, _ := natsdtest.MustJetStream(b, natsd.Options{})
	for i := range 2000 {
		nc, err := nats.Connect("", nats.InProcessServer(srv.InProcess()), nats.UserInfo(fmt.Sprintf("dev-%d", i), "x"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
	}
	gone := make([]string, 1000)
	for i := range gone {
		gone[i] = fmt.Sprintf("gone-%d", i)
	}
	b.Run("each", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, u := range gone {
				srv.Disconnect(u)
			}
		}
	})
	b.Run("batch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			srv.Disconnect(gone...)
		}
	})
}
