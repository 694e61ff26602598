package natsdtest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon/natsd"
)

// MustJetStream starts an embedded server with o (in a directory of the
// test when o.Dir is empty), connects to it in process and returns both;
// the test's cleanup stops them.
func MustJetStream(tb testing.TB, o natsd.Options) (*natsd.Server, *nats.Conn, jetstream.JetStream) {
	tb.Helper()
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	srv, err := natsd.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := nats.Connect("", nats.InProcessServer(srv.InProcess()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return srv, nc, js
}
