// Package stream is proxmon's JetStream adapter: it creates the streams,
// the CASES bucket and the SNAPSHOTS store of DESIGN.md "Contracts",
// appends records to the log (FIXES) and rejections to REJECTED, and runs
// the fence engine on the log, publishing its events to EVENTS.
//
// Invariants:
//   - The log's records are the NDJSON form of proxmon.Record (one JSON
//     object a message, as MarshalJSON writes and ParseRecord reads), so the
//     archive, `proxmon evaluate` and the live engine share one codec.
//   - A record's log time (when JetStream stored it) is its received time:
//     Received of fixes and statuses, Time of ticks, heartbeats and case
//     records. The runner reads it from the message metadata, never from
//     the payload or a clock, so a replay of FIXES gives the same events.
//   - An event is published to EVENTS with Nats-Msg-Id = its id and the
//     FIXES sequence of its input, in the engine's order, and a snapshot
//     covers a sequence only once every event of it is stored.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the streams, bucket and object store (DESIGN.md "NATS").
const (
	Fixes     = "FIXES"
	Rejected  = "REJECTED"
	Events    = "EVENTS"
	Snapshots = "SNAPSHOTS"
	Cases     = "CASES"
	Acks      = "ACKS"
	Audit     = "AUDIT"
)

// Partition is the only partition of a single node.
const Partition = "0"

// Subjects.
const (
	subjFix       = "proxmon.fix."       // + partition.device
	subjStatus    = "proxmon.status."    // + partition.device
	subjTick      = "proxmon.tick."      // + partition
	subjHeartbeat = "proxmon.heartbeat." // + partition
	subjCase      = "proxmon.case."      // + partition
	subjRejected  = "proxmon.rejected."  // + reason
	subjEvent     = "proxmon.event."     // + severity.case.type
	subjAck       = "proxmon.ack."       // + event id
	subjAudit     = "proxmon.audit."     // + actor
)

// Headers.
const (
	// HeaderInputSeq carries the FIXES sequence of the record that caused
	// an event.
	HeaderInputSeq = "Proxmon-Input-Seq"
	// HeaderTopic and HeaderReason keep where a rejected payload came from
	// and why it was rejected; HeaderError the error, which names no
	// coordinate.
	HeaderTopic  = "Proxmon-Topic"
	HeaderReason = "Proxmon-Reason"
	HeaderError  = "Proxmon-Error"
)

// Config sizes the streams.
type Config struct {
	// Retention is how long fixes and rejections are kept (the track
	// retention); 0 keeps them until the disk limit.
	Retention time.Duration
	// Duplicates is JetStream's deduplication window for MQTT redeliveries
	// of fixes; default 10 minutes.
	Duplicates time.Duration
	// Replicas for a cluster; 0 or 1 on a single node.
	Replicas int
}

func (c *Config) ensureDefaults() {
	if c.Duplicates == 0 {
		c.Duplicates = 10 * time.Minute
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
}

// ErrSetup is wrapped by the errors of Setup.
var ErrSetup = errors.New("set up JetStream")

// Setup creates or updates the streams, the CASES bucket and the SNAPSHOTS
// object store. It is idempotent: running it again on the same server
// changes nothing but the settings that differ.
func Setup(ctx context.Context, js jetstream.JetStream, c Config) error {
	c.ensureDefaults()
	dup := c.Duplicates
	if c.Retention > 0 && dup > c.Retention {
		dup = c.Retention
	}
	streams := []jetstream.StreamConfig{{
		Name:        Fixes,
		Description: "proxmon log: fixes, statuses, ticks, heartbeats, case records",
		Subjects: []string{subjFix + "*.*", subjStatus + "*.*", subjTick + "*",
			subjHeartbeat + "*", subjCase + "*"},
		Storage:     jetstream.FileStorage,
		MaxAge:      c.Retention,
		Duplicates:  dup,
		Replicas:    c.Replicas,
		AllowDirect: true,
	}, {
		Name:        Rejected,
		Description: "proxmon rejected device payloads, with topic and reason",
		Subjects:    []string{subjRejected + "*"},
		Storage:     jetstream.FileStorage,
		MaxAge:      c.Retention,
		Duplicates:  dup,
		Replicas:    c.Replicas,
		AllowDirect: true,
	}, {
		Name:        Events,
		Description: "proxmon events: one message per event, Nats-Msg-Id = event id",
		Subjects:    []string{subjEvent + "*.*.*"},
		Storage:     jetstream.FileStorage,
		Duplicates:  dup,
		Replicas:    c.Replicas,
		AllowDirect: true,
	}, {
		// The centre's records are evidence: never deleted, never purged.
		Name:        Acks,
		Description: "proxmon acknowledgements and closures of alerts, immutable",
		Subjects:    []string{subjAck + "*"},
		Storage:     jetstream.FileStorage,
		Duplicates:  dup,
		Replicas:    c.Replicas,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}, {
		Name:        Audit,
		Description: "proxmon audit trail: reads of location data and changes, by actor",
		Subjects:    []string{subjAudit + "*"},
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}}
	for _, sc := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("%w: stream %s: %v", ErrSetup, sc.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Cases,
		Description: "proxmon cases in force: case id -> case record",
		History:     16,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}); err != nil {
		return fmt.Errorf("%w: bucket %s: %v", ErrSetup, Cases, err)
	}
	if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      Snapshots,
		Description: "proxmon engine snapshots per partition, with the log sequence they cover",
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}); err != nil {
		return fmt.Errorf("%w: object store %s: %v", ErrSetup, Snapshots, err)
	}
	return nil
}
