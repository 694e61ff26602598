package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServeConfigFile: settings come from the flags, else the environment,
// else the config file, else the defaults; a key that names no flag is
// refused.
func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxmon.yaml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("data: " + filepath.Join(dir, "from-file") + "\nmqtt-listen: 127.0.0.1:11883\nroles: [ingest, fence]\nretention: 2160h\nfsync: interval\n")
	os.Unsetenv("PROXMON_MQTT_LISTEN")
	t.Setenv("PROXMON_FSYNC", "always")

	c, err := parseServe([]string{"--config", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data != filepath.Join(dir, "from-file") || c.MQTTListen != "127.0.0.1:11883" || c.Retention.Hours() != 2160 {
		t.Errorf("file settings not taken: data %q, mqtt-listen %q, retention %v", c.Data, c.MQTTListen, c.Retention)
	}
	if !slices.Equal(c.Roles, []string{"ingest", "fence"}) {
		t.Errorf("roles = %q, want ingest, fence", c.Roles)
	}
	if c.Fsync != "always" {
		t.Errorf("fsync = %q: the environment must win over the file", c.Fsync)
	}

	c, err = parseServe([]string{"--mqtt-listen=127.0.0.1:21883", "--config=" + path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTTListen != "127.0.0.1:21883" {
		t.Errorf("mqtt-listen = %q: the flag must win over the file", c.MQTTListen)
	}

	t.Setenv("PROXMON_CONFIG", path)
	if c, err = parseServe(nil, io.Discard); err != nil || c.MQTTListen != "127.0.0.1:11883" {
		t.Errorf("PROXMON_CONFIG not read: %v, mqtt-listen %q", err, c.MQTTListen)
	}

	write("mqtt-lisen: 127.0.0.1:1\n")
	if _, err := parseServe([]string{"--config", path}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown settings mqtt-lisen") {
		t.Errorf("a misspelt key: err = %v", err)
	}
	write("data: [\n")
	if _, err := parseServe([]string{"--config", path}, io.Discard); err == nil {
		t.Error("a broken file was accepted")
	}
	if _, err := parseServe([]string{"--config", filepath.Join(dir, "missing.yaml")}, io.Discard); err == nil {
		t.Error("a missing file was accepted")
	}
}
