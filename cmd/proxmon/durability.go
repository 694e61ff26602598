package main

import (
	"fmt"
	"net/url"
)

// Fsync policies of the embedded JetStream (--fsync). See docs/DURABILITY.md
// for what each costs and risks.
const (
	// fsyncInterval leaves JetStream at its default: a write is
	// acknowledged once it is in the operating system's page cache, and
	// the files are synced every 2 minutes. A crash of proxmon loses
	// nothing; a power loss or kernel panic can lose what was acknowledged
	// since the last sync.
	fsyncInterval = "interval"
	// fsyncAlways syncs every write before JetStream acknowledges it: an
	// acknowledged fix survives a power loss, at a cost in throughput and
	// latency.
	fsyncAlways = "always"
)

// validateFsync accepts the policies; "" is the default, interval.
func validateFsync(policy string) error {
	switch policy {
	case "", fsyncInterval, fsyncAlways:
		return nil
	}
	return fmt.Errorf("--fsync %q: want %s or %s", policy, fsyncAlways, fsyncInterval)
}

// mqttBroker splits an external broker's URL into the URL paho dials and
// the credentials in its user information, if any:
// tcp://proxmon-ingest:secret@broker:1883 connects as proxmon-ingest.
// Pass a URL with a password in the environment (PROXMON_MQTT) rather than
// on the command line, where every local user can read it.
func mqttBroker(raw string) (broker, user, password string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Port() == "" {
		return "", "", "", fmt.Errorf("--mqtt %q: want a URL such as tcp://host:1883 or tls://user:secret@host:8883", redactURL(raw))
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return "", "", "", fmt.Errorf("--mqtt %q: unknown scheme %q; want tcp, tls, ssl, ws or wss", redactURL(raw), u.Scheme)
	}
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
		u.User = nil
	}
	return u.String(), user, password, nil
}

// redactURL hides a password in a URL, for messages and logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// mqttBroker returns the external broker's URL and credentials, or "" when
// the embedded MQTT listener serves.
func (c *serveConfig) mqttBroker() (broker, user, password string, err error) {
	if c.MQTTURL == "" {
		return "", "", "", nil
	}
	return mqttBroker(c.MQTTURL)
}
