package stream

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
)

// The FIXES codec is the NDJSON form of proxmon.Record rather than the
// devices' protobuf: a log record is not only a device message (ticks,
// heartbeats and case records are records too), the JSON form is what
// `proxmon evaluate` reads and the archive exports, and one codec means a
// replay cannot disagree with the live engine about a record.

// recordMsg returns the message that appends r to the log. Its Nats-Msg-Id
// makes MQTT redeliveries of a fix or status harmless: device:seq:time for
// a fix (a device that reboots and restarts its seq has new times), and
// device:status:time for a status. Ticks, heartbeats and case records have
// none: each is a new record.
func recordMsg(r *proxmon.Record) (*nats.Msg, error) {
	data, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg("")
	m.Data = data
	switch r.Kind {
	case proxmon.RecordFix:
		m.Subject = subjFix + Partition + "." + r.Fix.Device
		m.Header.Set(jetstream.MsgIDHeader, FixMsgID(&r.Fix))
	case proxmon.RecordStatus:
		m.Subject = subjStatus + Partition + "." + r.Status.Device
		m.Header.Set(jetstream.MsgIDHeader, r.Status.Device+":status:"+r.Status.Time.UTC().Format(time.RFC3339Nano))
	case proxmon.RecordTick:
		m.Subject = subjTick + Partition
	case proxmon.RecordHeartbeat:
		m.Subject = subjHeartbeat + Partition
	case proxmon.RecordCase, proxmon.RecordCaseDeleted:
		m.Subject = subjCase + Partition
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", proxmon.ErrRecord, r.Kind)
	}
	return m, nil
}

// FixMsgID returns the Nats-Msg-Id of a fix: device:seq:time, the time in
// RFC 3339 with nanoseconds, UTC.
func FixMsgID(f *proxmon.Fix) string {
	b := make([]byte, 0, 80)
	b = append(b, f.Device...)
	b = append(b, ':')
	b = strconv.AppendUint(b, f.Seq, 10)
	b = append(b, ':')
	b = f.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	return string(b)
}

// DecodeRecord decodes a FIXES message stored at logTime: the payload's
// record with its received time (fix, status) or time (tick, heartbeat,
// case) set to the log's.
func DecodeRecord(data []byte, logTime time.Time) (proxmon.Record, error) {
	r, err := proxmon.ParseRecord(data)
	if err != nil {
		return r, err
	}
	t := logTime.UTC()
	switch r.Kind {
	case proxmon.RecordFix:
		r.Fix.Received = t
	case proxmon.RecordStatus:
		r.Status.Received = t
	case proxmon.RecordTick, proxmon.RecordHeartbeat, proxmon.RecordCase:
		r.Time = t
	}
	return r, nil
}
