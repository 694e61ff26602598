package natsd

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/proxmon/proxmon"
)

// The server's users that are not devices. A dot is not allowed in a
// device id, so no case file can claim one of these names.
const (
	// UserService is the roles' NATS connection: every subject. It cannot
	// connect over MQTT.
	UserService = "proxmon.service"
	// UserIngest is ingest's MQTT client: it subscribes to every device's
	// fix and status topics and publishes nothing.
	UserIngest = "proxmon.ingest"
	// UserAlerting is the alerting role's MQTT client: it publishes every
	// device's warning and command topics and subscribes to nothing.
	UserAlerting = "proxmon.alerting"
)

// Devices finds a device's MQTT secret. The stream Registry, which follows
// the CASES bucket, is one.
type Devices interface {
	// MQTTPasswordHash returns the bcrypt hash of the device's MQTT secret
	// in force; ok is false for a device no case in force uses, and the
	// hash is empty for a device without a secret.
	MQTTPasswordHash(device string) (hash string, ok bool)
}

// AuthOptions configures an Auth.
type AuthOptions struct {
	// ServiceSecret is the password of the service's own users
	// (UserService, UserIngest, UserAlerting). Required.
	ServiceSecret string
	// Devices finds devices' secrets; nil until SetDevices: every device
	// is refused meanwhile.
	Devices Devices
	// RequireDeviceCert refuses a device whose TLS connection presented no
	// client certificate verified against the server's client CAs.
	RequireDeviceCert bool
	// MaxVerifying bounds the bcrypt verifications that run at once, so a
	// storm of connections with new or wrong secrets leaves CPU for the
	// engine; default half the CPUs, at least 1.
	MaxVerifying int
	// CacheSize bounds the verified secrets remembered; default 1<<20.
	CacheSize int
	Log       *slog.Logger
}

// Auth authenticates and authorises every client of the embedded server
// (nats-server's CustomClientAuthentication), on both listeners:
//
//   - A device connects over MQTT only, with its id as user name and its
//     secret as password, verified against the bcrypt hash of the case in
//     force. It may publish to its own fix and status topics and subscribe
//     to its own warning and command topics, nothing else: not another
//     device's topics, not a wildcard.
//   - The service's users connect with the service secret: UserService
//     over NATS (and in-process), UserIngest and UserAlerting over MQTT.
//   - Anyone else, anonymous included, is refused.
//
// A device's bcrypt verification runs once per secret: a successful one is
// remembered (keyed by a SHA-256 of device and password) for as long as the
// device's hash stays the same, so a reconnect storm costs a hash lookup per
// connection. Failures are not remembered: wrong guesses cannot push out
// the devices' entries, and they wait for one of MaxVerifying slots.
type Auth struct {
	secret     []byte
	devices    atomic.Pointer[Devices]
	requireCrt bool
	log        *slog.Logger

	slots     chan struct{}
	mu        sync.Mutex
	verified  map[[sha256.Size]byte]string // sha256(device, password) -> the hash it matched
	cacheSize int

	verifications, refused atomic.Uint64
}

var _ server.Authentication = (*Auth)(nil)

// NewAuth returns an Auth. It panics without a service secret: that is a
// wiring mistake, and an empty secret would let anyone in as the service.
func NewAuth(o AuthOptions) *Auth {
	if o.ServiceSecret == "" {
		panic("natsd: NewAuth without a service secret")
	}
	if o.MaxVerifying <= 0 {
		o.MaxVerifying = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &Auth{secret: []byte(o.ServiceSecret), requireCrt: o.RequireDeviceCert, log: o.Log,
		slots: make(chan struct{}, o.MaxVerifying), verified: map[[sha256.Size]byte]string{},
		cacheSize: o.CacheSize}
	if o.Devices != nil {
		a.SetDevices(o.Devices)
	}
	return a
}

// SetDevices sets where devices' secrets are found. The server starts
// before JetStream can be read, so devices come later than the service.
func (a *Auth) SetDevices(d Devices) { a.devices.Store(&d) }

// AuthStats counts what an Auth did.
type AuthStats struct {
	// Verifications is the number of bcrypt verifications run.
	Verifications uint64
	// Refused is the number of connections refused.
	Refused uint64
}

// Stats returns the counts so far.
func (a *Auth) Stats() AuthStats {
	return AuthStats{Verifications: a.verifications.Load(), Refused: a.refused.Load()}
}

// Check authenticates a connection and registers its permissions.
func (a *Auth) Check(c server.ClientAuthentication) bool {
	if c.Kind() != server.CLIENT {
		return false
	}
	o := c.GetOpts()
	user, pass := o.Username, o.Password
	mqtt := mqttClient(c)
	var perms *server.Permissions
	reason := ""
	switch {
	case user == "":
		reason = "anonymous"
	case user == UserService || user == UserIngest || user == UserAlerting:
		switch {
		case subtle.ConstantTimeCompare([]byte(pass), a.secret) != 1:
			reason = "wrong secret"
		case (user == UserService) == mqtt:
			reason = "service user on the wrong listener"
		default:
			perms = servicePermissions(user)
		}
	case !mqtt:
		reason = "devices connect over MQTT only"
	case !proxmon.ValidID(user):
		reason = "not a device id"
	default:
		reason = a.checkDevice(c, user, pass)
		perms = DevicePermissions(user)
	}
	if reason != "" {
		a.refused.Add(1)
		// The user name is a device id or garbage; the password is never
		// logged.
		a.log.Warn("connection refused", "user", printable(user), "reason", reason,
			"mqtt", mqtt, "remote", addr(c))
		return false
	}
	c.RegisterUser(&server.User{Username: user, Permissions: perms})
	return true
}

// checkDevice returns why the device may not connect, "" if it may.
func (a *Auth) checkDevice(c server.ClientAuthentication, device, pass string) string {
	d := a.devices.Load()
	if d == nil {
		return "device list not loaded yet"
	}
	hash, ok := (*d).MQTTPasswordHash(device)
	switch {
	case !ok:
		return "no case in force uses the device"
	case hash == "":
		return "the device has no mqtt_password_bcrypt"
	case a.requireCrt && !verifiedCert(c):
		return "no verified client certificate"
	case !a.verify(device, pass, hash):
		return "wrong secret"
	}
	return ""
}

// verify reports whether pass is the secret of hash, running bcrypt only
// when this device and password have not matched this hash before.
func (a *Auth) verify(device, pass, hash string) bool {
	h := sha256.New()
	h.Write([]byte(device))
	h.Write([]byte{0})
	h.Write([]byte(pass))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	a.mu.Lock()
	known, hit := a.verified[key]
	a.mu.Unlock()
	if hit && known == hash {
		return true
	}
	a.slots <- struct{}{}
	a.verifications.Add(1)
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass))
	<-a.slots
	if err != nil {
		return false
	}
	a.mu.Lock()
	if _, hit := a.verified[key]; !hit && len(a.verified) >= a.cacheSize {
		for k := range a.verified { // evict any one
			delete(a.verified, k)
			break
		}
	}
	a.verified[key] = hash
	a.mu.Unlock()
	return true
}

// Subjects of the devices' topics: NATS's MQTT listener maps
// proxmon/v1/devices/tag-17/fix to proxmon.v1.devices.tag-17.fix, and the
// wildcards + and # to * and >.
const devicesSubject = "proxmon.v1.devices."

// mqttDelivery is where NATS's MQTT listener delivers a QoS 1 subscription
// from JetStream ($MQTT.sub.<nuid>); an MQTT subscriber needs to subscribe
// to it. MQTT clients cannot subscribe to $MQTT subjects themselves (the
// listener refuses such filters), and only MQTT users get this.
const mqttDelivery = "$MQTT.sub.>"

// DevicePermissions returns a device's permissions: publish its own fix and
// status, subscribe its own warning and command.
func DevicePermissions(device string) *server.Permissions {
	p := devicesSubject + device + "."
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{p + "fix", p + "status"}},
		Subscribe: &server.SubjectPermission{Allow: []string{p + "warning", p + "command", mqttDelivery}},
	}
}

// servicePermissions returns the permissions of a service user.
func servicePermissions(user string) *server.Permissions {
	nothing := &server.SubjectPermission{Deny: []string{">"}}
	switch user {
	case UserIngest:
		return &server.Permissions{Publish: nothing, Subscribe: &server.SubjectPermission{
			Allow: []string{devicesSubject + "*.fix", devicesSubject + "*.status", mqttDelivery}}}
	case UserAlerting:
		return &server.Permissions{Subscribe: nothing, Publish: &server.SubjectPermission{
			Allow: []string{devicesSubject + "*.warning", devicesSubject + "*.command"}}}
	default:
		return nil // UserService: everything
	}
}

// mqttClient reports whether c came in through the MQTT listener.
// nats-server does not export a connection's type; it names an MQTT
// connection "<addr> - mid:<id>" (a NATS one "cid", a websocket one
// "wid"). Should that ever change, this fails closed: devices are refused
// and the service's MQTT users too, which the tests notice at once.
func mqttClient(c server.ClientAuthentication) bool {
	s, ok := c.(fmt.Stringer)
	return ok && strings.Contains(s.String(), " - mid:")
}

func verifiedCert(c server.ClientAuthentication) bool {
	st := c.GetTLSConnectionState()
	return st != nil && len(st.VerifiedChains) > 0
}

func addr(c server.ClientAuthentication) string {
	if a := c.RemoteAddress(); a != nil {
		return a.String()
	}
	return "in-process"
}

// printable returns s cut to 64 bytes, without control characters, for
// the log.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
