package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// CaseBook holds the cases in the CASES bucket and their devices, for the
// roles that act on events and need the rules behind them (alerting: the
// thresholds of a contact ban, the devices' report intervals). It follows
// the bucket's changes. A deleted case is kept until the process ends: the
// events of its conditions still open may arrive after the deletion.
type CaseBook struct {
	mu      sync.RWMutex
	cases   map[string]*proxmon.Case
	devices map[string]proxmon.Device
}

// WatchCaseBook returns a CaseBook loaded with the bucket's current cases
// that keeps following it until ctx ends.
func WatchCaseBook(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*CaseBook, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.KeyValue(ctx, Cases)
	if err != nil {
		return nil, fmt.Errorf("watch cases: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch cases: %w", err)
	}
	b := &CaseBook{cases: map[string]*proxmon.Case{}, devices: map[string]proxmon.Device{}}
	ready := make(chan struct{})
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // the initial values are all in
					close(ready)
					continue
				}
				if err := b.update(e); err != nil {
					log.Warn("bad case in bucket", "key", e.Key(), "err", err)
				}
			}
		}
	}()
	select {
	case <-ready:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *CaseBook) update(e jetstream.KeyValueEntry) error {
	if e.Operation() != jetstream.KeyValuePut {
		return nil // deleted or purged: kept, see CaseBook
	}
	rec, err := proxmon.ParseRecord(e.Value())
	if err != nil {
		return err
	}
	if rec.Kind != proxmon.RecordCase {
		return errors.New("not a case record")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cases[rec.Case.ID] = rec.Case
	for _, d := range rec.Devices {
		d.MQTTPasswordBcrypt = "" // not needed here; keep secrets in one place
		b.devices[d.ID] = d
	}
	return nil
}

// Case returns the case of that id. The case must not be modified.
func (b *CaseBook) Case(id string) (*proxmon.Case, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	c, ok := b.cases[id]
	return c, ok
}

// Device returns the device of that id, as its latest case record has it.
func (b *CaseBook) Device(id string) (proxmon.Device, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	d, ok := b.devices[id]
	return d, ok
}

// CasesOf returns the cases that use the device (as offender or protected
// person), by id.
func (b *CaseBook) CasesOf(device string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []string
	for id, c := range b.cases {
		uses := c.Offender == device
		for _, ban := range c.ContactBans {
			uses = uses || ban.Protected == device
		}
		if uses {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// DeviceIDs returns the ids of the devices of the cases held.
func (b *CaseBook) DeviceIDs() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.devices))
	for id := range b.devices {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
