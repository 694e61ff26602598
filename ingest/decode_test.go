package ingest_test

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

func TestDecodeFix(t *testing.T) {
	for _, c := range fixCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ingest.DecodeFix(c.topicDevice(), c.payload())
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("DecodeFix: err = %v, want %v", err, c.err)
				}
				if got != (proxmon.Fix{}) {
					t.Errorf("DecodeFix returned %+v with its error, want the zero Fix", got)
				}
				assertNoCoordinates(t, err, c.msg.GetLat(), c.msg.GetLon())
				return
			}
			if err != nil {
				t.Fatalf("DecodeFix: %v", err)
			}
			assertFix(t, got, c.want)
		})
	}
}

func TestEncodeFix(t *testing.T) {
	for _, c := range fixCases {
		if !c.encodes {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var got proxmonv1.Fix
			if err := proto.Unmarshal(ingest.EncodeFix(c.want), &got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, c.msg) {
				t.Errorf("EncodeFix(%+v)\n got %v\nwant %v", c.want, &got, c.msg)
			}
		})
	}
}

func TestDecodeStatus(t *testing.T) {
	for _, c := range statusCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ingest.DecodeStatus(c.topicDevice(), c.payload())
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("DecodeStatus: err = %v, want %v", err, c.err)
				}
				if got != (proxmon.Status{}) {
					t.Errorf("DecodeStatus returned %+v with its error, want the zero Status", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeStatus: %v", err)
			}
			if !got.Time.Equal(c.want.Time) || got.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v in UTC", got.Time, c.want.Time)
			}
			got.Time, c.want.Time = time.Time{}, time.Time{}
			if got != c.want {
				t.Errorf("DecodeStatus\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestEncodeStatus(t *testing.T) {
	for _, c := range statusCases {
		if !c.encodes {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var got proxmonv1.Status
			if err := proto.Unmarshal(ingest.EncodeStatus(c.want), &got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, c.msg) {
				t.Errorf("EncodeStatus(%+v)\n got %v\nwant %v", c.want, &got, c.msg)
			}
		})
	}
}

// The topic's device is checked before the payload is looked at, so a
// message on a malformed topic is rejected as such whatever it carries.
func TestDecodeBadTopicDevice(t *testing.T) {
	for _, topic := range []string{"", "+", "#", "a/b", "tag 17", "tag.17", "tág", strings.Repeat("x", 65), "tag-\x00"} {
		t.Run(strconv.Quote(topic), func(t *testing.T) {
			if _, err := ingest.DecodeFix(topic, mustMarshal(goodFixMsg())); !errors.Is(err, ingest.ErrBadID) {
				t.Errorf("DecodeFix: err = %v, want ErrBadID", err)
			}
			if _, err := ingest.DecodeStatus(topic, mustMarshal(goodStatusMsg())); !errors.Is(err, ingest.ErrBadID) {
				t.Errorf("DecodeStatus: err = %v, want ErrBadID", err)
			}
		})
	}
}

// A payload published on the wrong kind of topic must not pass for the
// other kind: fields with the same numbers have different wire types.
func TestDecodeCrossedTopics(t *testing.T) {
	if _, err := ingest.DecodeStatus(device, mustMarshal(goodFixMsg())); !errors.Is(err, ingest.ErrUndecodable) {
		t.Errorf("DecodeStatus(a fix): err = %v, want ErrUndecodable", err)
	}
	if _, err := ingest.DecodeFix(device, mustMarshal(goodStatusMsg())); !errors.Is(err, ingest.ErrUndecodable) {
		t.Errorf("DecodeFix(a status): err = %v, want ErrUndecodable", err)
	}
}

// An error message ends up in the logs, where positions must never be; it
// must still say which device and which fault.
func TestDecodeFixErrorMessage(t *testing.T) {
	m := goodFixMsg()
	m.Lat = 91.924417
	_, err := ingest.DecodeFix(device, mustMarshal(m))
	if err == nil {
		t.Fatal("DecodeFix accepted a latitude above 90")
	}
	assertNoCoordinates(t, err, m.Lat, m.Lon)
	if msg := err.Error(); !strings.Contains(msg, device) || !strings.Contains(msg, "bad coordinates") {
		t.Errorf("error %q does not name the device and the fault", msg)
	}
}

// A hostile id must not flood the logs.
func TestDecodeLongIDIsShortenedInErrors(t *testing.T) {
	m := goodFixMsg()
	m.Device = strings.Repeat("A", 10000)
	_, err := ingest.DecodeFix(device, mustMarshal(m))
	if !errors.Is(err, ingest.ErrBadID) {
		t.Fatalf("err = %v, want ErrBadID", err)
	}
	if n := len(err.Error()); n > 200 {
		t.Errorf("error message is %d bytes long", n)
	}
}

func TestValidateFix(t *testing.T) {
	received := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		time time.Time
		err  error
	}{
		{"received at once", received, nil},
		{"received an hour late", received.Add(-time.Hour), nil},
		{"clock 60 s ahead", received.Add(ingest.MaxClockAhead), nil},
		{"clock 60.000000001 s ahead", received.Add(ingest.MaxClockAhead + 1), ingest.ErrFutureTime},
		{"clock a day ahead", received.Add(24 * time.Hour), ingest.ErrFutureTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodFix()
			f.Time = tt.time
			err := ingest.ValidateFix(f, received)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("ValidateFix: err = %v, want %v", err, tt.err)
			}
			assertNoCoordinates(t, err, f.Lat, f.Lon)

			s := goodStatus()
			s.Time = tt.time
			err = ingest.ValidateStatus(s, received)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("ValidateStatus: err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("something else"), "other"},
		{ingest.ErrUndecodable, "undecodable"},
		{ingest.ErrBadID, "bad_id"},
		{ingest.ErrDeviceMismatch, "device_mismatch"},
		{ingest.ErrBadTime, "bad_time"},
		{ingest.ErrFutureTime, "future_time"},
		{ingest.ErrBadCoordinates, "bad_coordinates"},
		{ingest.ErrZeroPosition, "zero_position"},
		{ingest.ErrBadValue, "bad_value"},
		{ingest.ErrUnknownDevice, "unknown_device"},
	}
	token := regexp.MustCompile(`^[a-z_]+$`)
	seen := map[string]bool{}
	for _, tt := range tests {
		wrapped := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", tt.err))
		if tt.err == nil {
			wrapped = nil
		}
		if got := ingest.Reason(wrapped); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", wrapped, got, tt.want)
		}
		if tt.err == nil {
			continue
		}
		if !token.MatchString(tt.want) {
			t.Errorf("label %q is not a NATS subject token of [a-z_]", tt.want)
		}
		if seen[tt.want] {
			t.Errorf("label %q used twice", tt.want)
		}
		seen[tt.want] = true
	}
}

// Every rejection in the catalogue maps to a reason of its own, never to
// "other": an error a dashboard cannot tell apart is a silent one.
func TestReasonOfCatalogueRejections(t *testing.T) {
	for _, c := range fixCases {
		if c.err == nil {
			continue
		}
		_, err := ingest.DecodeFix(c.topicDevice(), c.payload())
		if got, want := ingest.Reason(err), ingest.Reason(c.err); got != want {
			t.Errorf("%s: Reason = %q, want %q", c.name, got, want)
		}
	}
	for _, c := range statusCases {
		if c.err == nil {
			continue
		}
		_, err := ingest.DecodeStatus(c.topicDevice(), c.payload())
		if got, want := ingest.Reason(err), ingest.Reason(c.err); got != want {
			t.Errorf("%s: Reason = %q, want %q", c.name, got, want)
		}
	}
}

// assertFix compares fixes field by field; times must be the same instant,
// in UTC, so that event ids written with time.RFC3339Nano agree.
func assertFix(tb testing.TB, got, want proxmon.Fix) {
	tb.Helper()
	if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
		tb.Errorf("Time = %v, want %v in UTC", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if got != want {
		tb.Errorf("fix\n got %+v\nwant %+v", got, want)
	}
}

// assertNoCoordinates fails when err's message holds either coordinate in a
// form fmt or strconv would print it.
func assertNoCoordinates(tb testing.TB, err error, lat, lon float64) {
	tb.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, v := range []float64{lat, lon} {
		if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) || v == math.Trunc(v) {
			continue // nothing distinctive to look for
		}
		for _, s := range []string{
			strconv.FormatFloat(v, 'g', -1, 64),
			strconv.FormatFloat(v, 'f', 3, 64),
			fmt.Sprint(float32(v)),
		} {
			if strings.Contains(msg, s) {
				tb.Errorf("error message %q contains the coordinate %s", msg, s)
			}
		}
	}
}

// Fractional values a device sends as float32 arrive as the decimal it
// meant, and go back out unchanged. 7.038531e-26 is the one non-negative
// float32 that float64 conversion would round twice.
func TestFloat32FieldsKeepTheirDecimal(t *testing.T) {
	for _, v := range []float32{5.3, 0.1, 1e-3, 271.7, 359.99, 7.038531e-26, math.MaxFloat32, math.SmallestNonzeroFloat32} {
		m := goodFixMsg()
		m.AccuracyM, m.SpeedMps = v, v
		fix, err := ingest.DecodeFix(device, mustMarshal(m))
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		want, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		if fix.AccuracyM != want || fix.SpeedMps != want {
			t.Errorf("float32 %v decoded as %v and %v, want %v", v, fix.AccuracyM, fix.SpeedMps, want)
		}
		var back proxmonv1.Fix
		if err := proto.Unmarshal(ingest.EncodeFix(fix), &back); err != nil {
			t.Fatal(err)
		}
		if back.AccuracyM != v || back.SpeedMps != v {
			t.Errorf("float32 %v re-encoded as %v and %v", v, back.AccuracyM, back.SpeedMps)
		}
	}
}

// Every fix from every device passes through DecodeFix.
func BenchmarkDecodeFix(b *testing.B) {
	payload := mustMarshal(goodFixMsg())
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := ingest.DecodeFix(device, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStatus(b *testing.B) {
	payload := mustMarshal(goodStatusMsg())
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := ingest.DecodeStatus(device, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeFix(b *testing.B) {
	fix := goodFix()
	b.ReportAllocs()
	for b.Loop() {
		ingest.EncodeFix(fix)
	}
}
