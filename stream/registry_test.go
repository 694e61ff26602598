package stream_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/stream"
)

// fakeHash returns a string of bcrypt's form (the registry never checks a
// secret against it).
func fakeHash(c byte) string { return "$2a$04$" + strings.Repeat(string(c), 53) }

func mustApply(t *testing.T, apply func(*proxmon.CaseFile) (uint64, error), yaml string) {
	t.Helper()
	cf, err := proxmon.ParseCaseFile([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply(cf); err != nil {
		t.Fatal(err)
	}
}

// The registry follows the devices' secrets through the CASES bucket: a
// device used by two cases has the secret of the one written last; a
// changed secret and a deleted case are reported; the log's case records
// carry no secret.
func TestRegistrySecrets(t *testing.T) {
	js := setup(t)
	ctx := t.Context()
	apply := func(cf *proxmon.CaseFile) (uint64, error) { return stream.ApplyCases(ctx, js, cf) }
	reg, err := stream.WatchCases(ctx, js, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var changed []string
	reg.OnSecretChange(func(ds []string) {
		mu.Lock()
		defer mu.Unlock()
		changed = append(changed, ds...)
	})
	waitHash := func(dev, want string, wantOK bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			h, ok := reg.MQTTPasswordHash(dev)
			if h == want && ok == wantOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: hash %q ok %v, want %q ok %v", dev, h, ok, want, wantOK)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// waitChanges waits until the devices reported changed since the last
	// call are want (the report follows the registry's update).
	waitChanges := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := slices.Clone(changed)
			mu.Unlock()
			if len(got) >= len(want) {
				if !slices.Equal(got, want) {
					t.Errorf("changed %v, want %v", got, want)
				}
				mu.Lock()
				changed = nil
				mu.Unlock()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("changed %v, want %v", got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// setup's case file gives no secrets.
	waitHash("tag-1", "", true)
	waitHash("tag-404", "", false)

	a, b := fakeHash('a'), fakeHash('b')
	mustApply(t, apply, `devices:
  - {id: tag-1, kind: tag, mqtt_password_bcrypt: "`+a+`"}
  - {id: phone-1, kind: victim, mqtt_password_bcrypt: "`+a+`"}
  - {id: tag-2, kind: tag, mqtt_password_bcrypt: "`+a+`"}
cases:
  - {id: case-1, offender: tag-1, contact_bans: [{protected: phone-1, alert_m: 500, warn_m: 1500}]}
  - {id: case-2, offender: tag-2, contact_bans: [{protected: phone-1, alert_m: 500, warn_m: 1500}]}
`)
	waitHash("tag-2", a, true)
	waitHash("tag-1", a, true)
	// tag-1 and phone-1 had no secret before; tag-2 was unknown.
	waitChanges("phone-1", "tag-1")

	// case-2 written again with a new secret for phone-1: it wins over
	// case-1's, written before.
	mustApply(t, apply, `devices:
  - {id: phone-1, kind: victim, mqtt_password_bcrypt: "`+b+`"}
  - {id: tag-2, kind: tag, mqtt_password_bcrypt: "`+a+`"}
cases:
  - {id: case-2, offender: tag-2, contact_bans: [{protected: phone-1, alert_m: 500, warn_m: 1500}]}
`)
	waitHash("phone-1", b, true)
	waitChanges("phone-1")

	// Deleting case-2: phone-1 falls back to case-1's secret, tag-2 is
	// gone.
	kv, err := js.KeyValue(ctx, stream.Cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "case-2"); err != nil {
		t.Fatal(err)
	}
	waitHash("tag-2", "", false)
	waitHash("phone-1", a, true)
	waitChanges("phone-1", "tag-2")

	// No secret in the log.
	for _, m := range allMessages(t, js, stream.Fixes) {
		if strings.Contains(string(m), "$2a$") || strings.Contains(string(m), "mqtt_password") {
			t.Errorf("FIXES holds a secret hash: %s", m)
		}
	}
}

// The bucket's changes that arrive while the last report is still being
// handled come in one report: deleting many cases at once costs their
// devices' connections one pass, not one each.
func TestRegistryBatchesABurst(t *testing.T) {
	js := setup(t)
	ctx := t.Context()
	const n = 100
	var cf strings.Builder
	cf.WriteString("devices:\n")
	for i := range n {
		fmt.Fprintf(&cf, "  - {id: t-%d, kind: tag}\n", i)
	}
	cf.WriteString("cases:\n")
	for i := range n {
		fmt.Fprintf(&cf, "  - {id: c-%d, offender: t-%d}\n", i, i)
	}
	mustApply(t, func(cf *proxmon.CaseFile) (uint64, error) { return stream.ApplyCases(ctx, js, cf) }, cf.String())
	reg, err := stream.WatchCases(ctx, js, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	reports := make(chan []string, n)
	var first sync.Once
	reg.OnSecretChange(func(ds []string) {
		first.Do(func() {
			close(entered)
			<-release // the first report takes its time
		})
		reports <- ds
	})
	kv, err := js.KeyValue(ctx, stream.Cases)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "c-0"); err != nil {
		t.Fatal(err)
	}
	<-entered
	for i := 1; i < n; i++ {
		if err := kv.Delete(ctx, fmt.Sprintf("c-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitDelivered(t, js, "KV_"+stream.Cases)
	close(release)

	var got []string
	calls := 0
	for len(got) < n {
		select {
		case ds := <-reports:
			calls++
			if !slices.IsSorted(ds) {
				t.Errorf("report %v is not sorted", ds)
			}
			got = append(got, ds...)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d devices reported in %d calls, want %d", len(got), calls, n)
		}
	}
	slices.Sort(got)
	if len(slices.Compact(got)) != n {
		t.Errorf("a device reported more than once: %d reports of %d devices", len(got), n)
	}
	// One report for c-0, one for the rest; a straggler the server had not
	// yet handed to the client makes another.
	if calls > 4 {
		t.Errorf("%d deletions reported in %d calls, want them batched", n, calls)
	}
}

// waitDelivered waits until the server has delivered every message of the
// stream to each of its consumers.
func waitDelivered(t *testing.T, js jetstream.JetStream, name string) {
	t.Helper()
	st, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := st.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		behind := 0
		for ci := range st.ListConsumers(t.Context()).Info() {
			if ci.Delivered.Stream < info.State.LastSeq {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d consumers of %s behind after 10 s", behind, name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allMessages(t *testing.T, js jetstream.JetStream, name string) [][]byte {
	t.Helper()
	st, err := js.Stream(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.Data)
	}
	return out
}
