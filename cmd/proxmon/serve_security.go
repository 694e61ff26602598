package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/natsd"
	"github.com/proxmon/proxmon/stream"
)

// securityConfig is the Security part of serve's configuration.
type securityConfig struct {
	// SecretFile holds the service secret, the password of the service's
	// own users; default service-secret in the data directory, created
	// at the first start of the embedded server.
	SecretFile string
	// TLSCert and TLSKey put the embedded MQTT and NATS listeners on TLS;
	// with TLSCA, devices must also present a client certificate it
	// issued. With external servers, TLSCA is the CA the service's
	// clients trust.
	TLSCert, TLSKey, TLSCA string
	// StoreKeyFile holds the key that encrypts JetStream's files at rest.
	StoreKeyFile string
}

// Minimum lengths of the secrets read from files.
const (
	minServiceSecret = 16
	minStoreKey      = 32
)

func (c *securityConfig) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.StringVar(&c.SecretFile, "secret-file", env("PROXMON_SECRET_FILE", ""), "`file` with the service secret (its MQTT and NATS password); default service-secret in --data, created at first start [PROXMON_SECRET_FILE]")
	fs.StringVar(&c.TLSCert, "tls-cert", env("PROXMON_TLS_CERT", ""), "PEM certificate `file`: the embedded MQTT and NATS listeners serve TLS only [PROXMON_TLS_CERT]")
	fs.StringVar(&c.TLSKey, "tls-key", env("PROXMON_TLS_KEY", ""), "PEM private key `file` of --tls-cert [PROXMON_TLS_KEY]")
	fs.StringVar(&c.TLSCA, "tls-ca", env("PROXMON_TLS_CA", ""), "PEM CA `file`: devices must present a client certificate it issued (embedded); the CA of external servers' certificates (--nats, --mqtt) [PROXMON_TLS_CA]")
	fs.StringVar(&c.StoreKeyFile, "store-key-file", env("PROXMON_STORE_KEY_FILE", ""), "`file` with the key (32 characters or more) that encrypts JetStream's files at rest [PROXMON_STORE_KEY_FILE]")
}

func (c *serveConfig) tlsEnabled() bool { return c.TLSCert != "" }

func (c *serveConfig) secretFile() string {
	if c.SecretFile != "" {
		return c.SecretFile
	}
	return filepath.Join(c.Data, "service-secret")
}

// validateSecurity checks the Security settings and says what to fix.
func (c *serveConfig) validateSecurity() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key: give both or neither")
	}
	if !c.embedded() {
		if c.TLSCert != "" {
			return errors.New("--tls-cert: only the embedded server's listeners serve TLS; with --nats, configure TLS on that server")
		}
		if c.StoreKeyFile != "" {
			return errors.New("--store-key-file: only the embedded server's store is encrypted here; with --nats, configure encryption on that server")
		}
	}
	if c.embedded() && c.TLSCA != "" && c.TLSCert == "" {
		return errors.New("--tls-ca: client certificates need TLS; give --tls-cert and --tls-key too")
	}
	return nil
}

// security is what the service authenticates and encrypts with.
type security struct {
	secret    string         // service secret; "" with external servers that need none
	auth      *natsd.Auth    // embedded server only
	serverTLS *tls.Config    // embedded listeners
	roots     *x509.CertPool // external servers' CA
	storeKey  string
}

// openSecurity loads the service secret (creating it on the first start of
// the embedded server), the TLS files and the store key.
func (s *Service) openSecurity() error {
	c := s.cfg
	sec := &security{}
	var err error
	if sec.secret, err = loadSecret(c.secretFile(), c.embedded()); err != nil {
		return err
	}
	if c.tlsEnabled() {
		if sec.serverTLS, err = (natsd.TLSFiles{Cert: c.TLSCert, Key: c.TLSKey, CA: c.TLSCA}).ServerConfig(); err != nil {
			return fmt.Errorf("--tls-cert, --tls-key, --tls-ca: %w", err)
		}
	} else if c.TLSCA != "" {
		if sec.roots, err = natsd.LoadCAs(c.TLSCA); err != nil {
			return fmt.Errorf("--tls-ca: %w", err)
		}
	}
	if c.StoreKeyFile != "" {
		if sec.storeKey, err = readSecretFile(c.StoreKeyFile, minStoreKey); err != nil {
			return fmt.Errorf("--store-key-file: %w", err)
		}
	}
	if c.embedded() {
		sec.auth = natsd.NewAuth(natsd.AuthOptions{ServiceSecret: sec.secret,
			RequireDeviceCert: c.TLSCA != "", Log: s.log.With("component", "auth")})
	}
	s.sec = sec
	return nil
}

// secureServer puts authentication, TLS and encryption at rest into the
// embedded server's options.
func (s *Service) secureServer(o *natsd.Options) {
	o.Auth = s.sec.auth
	o.TLS = s.sec.serverTLS
	o.StoreKey = s.sec.storeKey
}

// natsOptions are the service's NATS connection's credentials and TLS.
func (s *Service) natsOptions() []nats.Option {
	var opts []nats.Option
	if s.sec.secret != "" {
		opts = append(opts, nats.UserInfo(natsd.UserService, s.sec.secret))
	}
	if s.sec.roots != nil {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.sec.roots}))
	}
	return opts
}

// mqttClientAuth returns the user name, password and TLS configuration of
// a service MQTT client (user natsd.UserIngest or natsd.UserAlerting) of
// the broker srv (nil: the external broker).
func (s *Service) mqttClientAuth(srv *natsd.Server, user string) (username, password string, tlsConfig *tls.Config) {
	switch {
	case srv != nil:
		tlsConfig = srv.ClientTLS()
	case s.sec.roots != nil:
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.sec.roots}
	}
	if s.sec.secret == "" {
		return "", "", tlsConfig
	}
	return user, s.sec.secret, tlsConfig
}

// secureIngest gives ingest's MQTT client its credentials and TLS for the
// broker srv (nil: the external one). Credentials in an external broker's
// URL win over the service secret.
func (s *Service) secureIngest(o *ingest.Options, srv *natsd.Server) {
	user, password, tlsConfig := s.mqttClientAuth(srv, natsd.UserIngest)
	if o.Username == "" {
		o.Username, o.Password = user, password
	}
	o.TLSConfig = tlsConfig
}

// embeddedBroker returns the embedded server when its MQTT listener is the
// broker, else nil.
func (s *Service) embeddedBroker() *natsd.Server {
	if s.cfg.embedded() && s.cfg.MQTTURL == "" {
		return s.srv
	}
	return nil
}

// watchSecrets lets the embedded server's Auth find devices' secrets in
// the CASES bucket (a case applied at runtime is seen at once), and closes
// devices' connections when their secret changes or their case goes, the
// devices of a burst of changes in one pass over the connections. It
// returns the Registry, which ingest shares.
func (s *Service) watchSecrets(ctx context.Context) (*stream.Registry, error) {
	reg, err := stream.WatchCases(ctx, s.js, s.log)
	if err != nil {
		return nil, err
	}
	if s.sec.auth != nil {
		s.sec.auth.SetDevices(reg)
		reg.OnSecretChange(func(devices []string) {
			if n := s.srv.Disconnect(devices...); n > 0 {
				s.log.Info("devices disconnected: secret changed or case removed", "devices", devices, "connections", n)
			}
		})
	}
	return reg, nil
}

// loadSecret reads the service secret from file; when the file does not
// exist and create is set, it writes a new random one (mode 0600). With
// create unset, a missing file means no secret.
func loadSecret(file string, create bool) (string, error) {
	secret, err := readSecretFile(file, minServiceSecret)
	switch {
	case err == nil:
		return secret, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("--secret-file: %w", err)
	case !create:
		return "", nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("--secret-file: %w", err)
	}
	return secret, nil
}

// readSecretFile reads a secret of at least minLen characters from a file
// that only its owner may read.
func readSecretFile(file string, minLen int) (string, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: readable by others (mode %v); chmod 600 it", file, fi.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < minLen {
		return "", fmt.Errorf("%s: shorter than %d characters; generate one with: openssl rand -base64 32", file, minLen)
	}
	return secret, nil
}

// clientSecurity is how a command line tool (cases apply) authenticates to
// the service's NATS server.
type clientSecurity struct {
	secretFile, ca string
}

func (c *clientSecurity) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.secretFile, "secret-file", envOr("PROXMON_SECRET_FILE", filepath.Join(defaultDataDir(), "service-secret")),
		"`file` with the service secret, written by proxmon serve in its data directory; when the file does not exist, connect without credentials [PROXMON_SECRET_FILE]")
	fs.StringVar(&c.ca, "tls-ca", envOr("PROXMON_TLS_CA", ""), "PEM CA `file` of the server's certificate, for a NATS listener on TLS [PROXMON_TLS_CA]")
}

func (c *clientSecurity) natsOptions() ([]nats.Option, error) {
	var opts []nats.Option
	secret, err := loadSecret(c.secretFile, false)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		opts = append(opts, nats.UserInfo(natsd.UserService, secret))
	}
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// tlsConfig is the client TLS configuration that trusts --tls-ca; nil
// without one.
func (c *clientSecurity) tlsConfig() (*tls.Config, error) {
	if c.ca == "" {
		return nil, nil
	}
	pool, err := natsd.LoadCAs(c.ca)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// hint says what to check when the server refused the connection.
func (c *clientSecurity) hint(err error) string {
	if errors.Is(err, nats.ErrAuthorization) {
		return fmt.Sprintf(" (is --secret-file %s the server's service secret?)", c.secretFile)
	}
	return ""
}
