package natsd

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/nats-io/nats-server/v2/server"
)

// TLSFiles names the PEM files of the listeners' TLS.
type TLSFiles struct {
	// Cert and Key are the server's certificate (chain) and private key.
	Cert, Key string
	// CA, when set, holds the CAs whose client certificates the server
	// accepts; see ServerConfig.
	CA string
}

// ErrTLS is wrapped by the errors of loading TLS files.
var ErrTLS = errors.New("TLS")

// ServerConfig returns the listeners' TLS configuration: TLS 1.2 or later
// with the certificate and key. With a CA, a client certificate is verified
// against it when one is presented; Auth (RequireDeviceCert) then refuses
// devices without one, while the service's users, which authenticate with
// the service secret, need none.
func (f TLSFiles) ServerConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate %s, key %s: %v", ErrTLS, f.Cert, f.Key, err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.CA != "" {
		pool, err := LoadCAs(f.CA)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// LoadCAs reads a PEM file of CA certificates.
func LoadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %v", ErrTLS, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrTLS, file)
	}
	return pool, nil
}

// secure puts the authentication, TLS and encryption at rest of o into the
// server's options.
func (o *Options) secure(so *server.Options) {
	if o.Auth != nil {
		so.CustomClientAuthentication = o.Auth
	}
	if o.TLS != nil {
		so.TLSConfig = o.TLS.Clone()
		so.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		if o.MQTTListen != "" {
			so.MQTT.TLSConfig = o.TLS.Clone()
		}
	}
	if o.StoreKey != "" {
		so.JetStreamKey = o.StoreKey
		so.JetStreamCipher = server.ChaCha
	}
}

// ClientTLS returns a TLS configuration for the service's own clients of
// this server's listeners (ingest's and alerting's MQTT clients): it trusts
// exactly the server's own certificate, whatever CA issued it and whatever
// names it carries, since they connect to an address of this process. Nil
// when the server serves no TLS.
func (s *Server) ClientTLS() *tls.Config {
	if s.tls == nil || len(s.tls.Certificates) == 0 || len(s.tls.Certificates[0].Certificate) == 0 {
		return nil
	}
	own := s.tls.Certificates[0].Certificate[0]
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain and names are not verified; VerifyConnection pins the
		// certificate instead, which is stricter.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, own) {
				return fmt.Errorf("%w: the server's certificate is not proxmon's own", ErrTLS)
			}
			return nil
		},
	}
}

// Disconnect closes every connection of the users, as when devices'
// secrets are changed or their cases are deleted: they must authenticate
// again. It returns how many connections it closed.
//
// Finding a user's connections means a pass over every client of the
// server, so the users come in one call: deleting a thousand cases then
// costs one pass, not a thousand.
func (s *Server) Disconnect(users ...string) int {
	if len(users) == 0 {
		return 0
	}
	// Username fills in each connection's user; Limit is the page size,
	// and the page must hold every client.
	opts := &server.ConnzOptions{Username: true, Limit: math.MaxInt}
	if len(users) == 1 {
		opts.User = users[0] // the server filters: no ConnInfo for the others
	}
	cz, err := s.ns.Connz(opts)
	if err != nil {
		return 0
	}
	named := make(map[string]struct{}, len(users))
	for _, u := range users {
		named[u] = struct{}{}
	}
	n := 0
	for _, c := range cz.Conns {
		if _, ok := named[c.AuthorizedUser]; ok && s.ns.DisconnectClientByID(c.Cid) == nil {
			n++
		}
	}
	return n
}
