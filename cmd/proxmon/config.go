package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// serveConfigFile is the file serve reads its settings from
// (--config / PROXMON_CONFIG). Its keys are the flags' names, without
// dashes in front:
//
//	data: /var/lib/proxmon
//	mqtt-listen: 0.0.0.0:8883
//	roles: [ingest, fence]
//	tls-cert: /etc/proxmon/tls.crt
//
// A setting comes from the command line, else the environment
// (PROXMON_MQTT_LISTEN), else the file, else its default.
type serveConfigFile struct {
	path   string
	values map[string]string
}

// findConfig returns the --config argument, or PROXMON_CONFIG.
func findConfig(args []string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, "config="); ok {
			return v
		}
		if a == "config" && i+1 < len(args) {
			return args[i+1]
		}
		if args[i] == "--" {
			break
		}
	}
	return os.Getenv("PROXMON_CONFIG")
}

// loadConfigFile reads a config file; an empty path is no file.
func loadConfigFile(path string) (*serveConfigFile, error) {
	c := &serveConfigFile{path: path, values: map[string]string{}}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			c.values[k] = v
		case bool, float64:
			c.values[k] = fmt.Sprint(v)
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			c.values[k] = strings.Join(parts, ",")
		default:
			return nil, fmt.Errorf("--config %s: %s: want a string, number, boolean or list", path, k)
		}
	}
	return c, nil
}

// env looks a setting up in the environment, then in the file; name is
// the environment variable (PROXMON_MQTT_LISTEN), whose key in the file is
// the flag's name (mqtt-listen).
func (c *serveConfigFile) env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	key := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "PROXMON_")), "_", "-")
	if v, ok := c.values[key]; ok {
		return v
	}
	return def
}

// check refuses keys that name no flag, so a misspelt setting is not
// silently ignored.
func (c *serveConfigFile) check(fs *flag.FlagSet) error {
	var unknown []string
	for k := range c.values {
		if k == "config" || fs.Lookup(k) == nil {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return errors.New("--config " + c.path + ": unknown settings " + strings.Join(unknown, ", ") + " (keys are serve's flag names)")
}
