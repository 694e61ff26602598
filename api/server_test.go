package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/proxmon/proxmon/api"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "proxmon_test_total", Help: "A test counter."})
	c.Add(3)
	reg.MustRegister(c)
	var catchingUp atomic.Bool
	catchingUp.Store(true)
	s := api.New(api.Options{Addr: "127.0.0.1:0", Registry: reg, Ready: []api.Check{
		{Name: "engine", Err: func(context.Context) error {
			if catchingUp.Load() {
				return errors.New("catching up: 12 records behind")
			}
			return nil
		}},
		{Name: "nats", Err: func(context.Context) error { return nil }},
	}})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + s.Addr()

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "engine: catching up: 12 records behind") || strings.Contains(body, "nats") {
		t.Errorf("/readyz while catching up: %d %q", code, body)
	}
	catchingUp.Store(false)
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz caught up: %d %q", code, body)
	}
	code, body = get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "\nproxmon_test_total 3\n") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if strings.Contains(body, "go_goroutines") {
		t.Error("/metrics serves the global registry's collectors")
	}
	if code, _ := get(t, base+"/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}

// Two servers in one process each serve their own registry.
func TestServersApart(t *testing.T) {
	for range 2 {
		s := api.New(api.Options{Addr: "127.0.0.1:0", Registry: prometheus.NewRegistry()})
		if err := s.Open(); err != nil {
			t.Fatal(err)
		}
		if code, _ := get(t, "http://"+s.Addr()+"/metrics"); code != http.StatusOK {
			t.Errorf("/metrics: %d", code)
		}
		if err := s.Close(t.Context()); err != nil {
			t.Error(err)
		}
	}
}
