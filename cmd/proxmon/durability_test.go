package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestServeFsyncFlag(t *testing.T) {
	tests := []struct {
		name string
		env  string // PROXMON_FSYNC; "-" unset
		args []string
		want string // Fsync, or the error's substring when err
		err  bool
	}{
		{name: "default", env: "-", want: fsyncAlways},
		{name: "flag interval", env: "-", args: []string{"--fsync", "interval"}, want: fsyncInterval},
		{name: "env interval", env: "interval", want: fsyncInterval},
		{name: "flag wins over env", env: "interval", args: []string{"--fsync=always"}, want: fsyncAlways},
		{name: "unknown", env: "-", args: []string{"--fsync", "sometimes"}, want: `--fsync "sometimes": want always or interval`, err: true},
		{name: "unknown in env", env: "never", want: `--fsync "never"`, err: true},
		{name: "checked with external NATS too", env: "-", args: []string{"--nats", "nats://127.0.0.1:4222", "--fsync", "x"}, want: `--fsync "x"`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "-" {
				t.Setenv("PROXMON_FSYNC", tt.env)
			} else {
				t.Setenv("PROXMON_FSYNC", "") // restored after the test
				os.Unsetenv("PROXMON_FSYNC")
			}
			c, err := parseServe(append([]string{"--data", t.TempDir()}, tt.args...), io.Discard)
			if tt.err {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Fsync != tt.want {
				t.Errorf("Fsync = %q, want %q", c.Fsync, tt.want)
			}
		})
	}
}

func TestMQTTBrokerURL(t *testing.T) {
	tests := []struct {
		in, broker, user, password string
		err                        string
	}{
		{in: "tcp://127.0.0.1:1883", broker: "tcp://127.0.0.1:1883"},
		{in: "tcp://proxmon-ingest:s3cr%40t@broker:1883", broker: "tcp://broker:1883", user: "proxmon-ingest", password: "s3cr@t"},
		{in: "tls://ingest@broker:8883", broker: "tls://broker:8883", user: "ingest"},
		{in: "broker:1883", err: "want a URL"},
		{in: "tcp://broker", err: "want a URL"},
		{in: "http://u:hunter2@broker:80", err: "unknown scheme"},
	}
	for _, tt := range tests {
		broker, user, password, err := mqttBroker(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.in, err, tt.err)
			} else if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%s: the error shows the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || broker != tt.broker || user != tt.user || password != tt.password {
			t.Errorf("%s: got %q %q %q %v, want %q %q %q", tt.in, broker, user, password, err, tt.broker, tt.user, tt.password)
		}
	}
}

func TestServeDurationFlags(t *testing.T) {
	tests := []struct {
		args                   []string
		ackWait, snapshotEvery time.Duration
		err                    string
	}{
		{ackWait: defaultMQTTAckWait, snapshotEvery: 10 * time.Second},
		{args: []string{"--mqtt-ack-wait", "2s", "--snapshot-every", "1m"}, ackWait: 2 * time.Second, snapshotEvery: time.Minute},
		{args: []string{"--mqtt-ack-wait", "10ms"}, err: "100ms or more"},
		{args: []string{"--mqtt-ack-wait", "soon"}, err: `--mqtt-ack-wait "soon"`},
		{args: []string{"--snapshot-every", "0"}, err: `--snapshot-every "0": want a duration of 100ms or more`},
	}
	for _, tt := range tests {
		c, err := parseServe(append([]string{"--data", t.TempDir()}, tt.args...), io.Discard)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: err = %v, want %q", tt.args, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case tt.err == "" && (c.MQTTAckWait != tt.ackWait || c.SnapshotEvery != tt.snapshotEvery):
			t.Errorf("%q: MQTTAckWait, SnapshotEvery = %v, %v; want %v, %v", tt.args, c.MQTTAckWait, c.SnapshotEvery, tt.ackWait, tt.snapshotEvery)
		}
	}
}
