package main

import (
	"flag"
	"fmt"
	"net/url"
	"time"
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

// defaultMQTTAckWait is how long the embedded broker waits for a PUBACK
// before it sends a QoS 1 message again. Ingest acknowledges within
// milliseconds once JetStream stored a fix, so the wait only matters after
// a failure: the fixes in flight to ingest when proxmon crashed reach the
// log this long after it is back. NATS's own default is 30 s.
const defaultMQTTAckWait = 10 * time.Second

// durabilityConfig is the part of serve's configuration that decides what
// survives a crash and how soon it comes back.
type durabilityConfig struct {
	// Fsync is fsyncAlways or fsyncInterval ("" = always).
	Fsync string
	// MQTTAckWait is the embedded MQTT listener's redelivery wait;
	// 0 = defaultMQTTAckWait.
	MQTTAckWait time.Duration

	ackWait, snapshotEvery string // as given, parsed by validateDurability
}

func (c *durabilityConfig) flags(fs *flag.FlagSet, env func(name, def string) string) {
	fs.StringVar(&c.Fsync, "fsync", env("PROXMON_FSYNC", fsyncAlways), "embedded JetStream syncs to disk `always` (every write, before it is acknowledged: an acknowledged fix survives a power loss) or every 2 min (interval: faster, but a power loss can lose what was acknowledged); see docs/DURABILITY.md [PROXMON_FSYNC]")
	fs.StringVar(&c.snapshotEvery, "snapshot-every", env("PROXMON_SNAPSHOT_EVERY", "10s"), "how often, at most, the engine saves its state; a restart replays the log from the last save [PROXMON_SNAPSHOT_EVERY]")
	fs.StringVar(&c.ackWait, "mqtt-ack-wait", env("PROXMON_MQTT_ACK_WAIT", defaultMQTTAckWait.String()), "embedded MQTT listener: how long to wait for a PUBACK before sending a QoS 1 message again (what was in flight to ingest at a crash comes this late) [PROXMON_MQTT_ACK_WAIT]")
}

// validateDurability checks the settings, says what to fix, and sets the
// engine's snapshot interval.
func (c *serveConfig) validateDurability() error {
	if err := c.durabilityConfig.check(); err != nil {
		return err
	}
	if c.snapshotEvery != "" {
		d, err := time.ParseDuration(c.snapshotEvery)
		if err != nil || d < 100*time.Millisecond {
			return fmt.Errorf("--snapshot-every %q: want a duration of 100ms or more, such as 10s", c.snapshotEvery)
		}
		c.SnapshotEvery = d
	}
	return nil
}

func (c *durabilityConfig) check() error {
	switch c.Fsync {
	case "", fsyncInterval, fsyncAlways:
	default:
		return fmt.Errorf("--fsync %q: want %s or %s", c.Fsync, fsyncAlways, fsyncInterval)
	}
	if c.ackWait != "" {
		d, err := time.ParseDuration(c.ackWait)
		if err != nil || d < 100*time.Millisecond {
			return fmt.Errorf("--mqtt-ack-wait %q: want a duration of 100ms or more, such as 10s", c.ackWait)
		}
		c.MQTTAckWait = d
	}
	if c.MQTTAckWait == 0 {
		c.MQTTAckWait = defaultMQTTAckWait
	}
	return nil
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
