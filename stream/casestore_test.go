package stream_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/centre"
	"github.com/proxmon/proxmon/stream"
)

func TestCaseStore(t *testing.T) {
	js := setup(t) // case-1 in force
	ctx := t.Context()
	s, err := stream.OpenCaseStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	logged := func() []string {
		var out []string
		for _, m := range allMessages(t, js, stream.Fixes) {
			if r, err := proxmon.ParseRecord(m); err == nil && r.Kind == proxmon.RecordCase {
				out = append(out, "case "+r.Case.ID)
			} else if err == nil && r.Kind == proxmon.RecordCaseDeleted {
				out = append(out, "deleted "+r.CaseID)
			}
		}
		return out
	}
	cur, err := s.Case(ctx, "case-1")
	if err != nil || cur.Case.Offender != "tag-1" || cur.Operation != centre.CasePut || cur.Revision == 0 {
		t.Fatalf("case-1: %+v, %v", cur, err)
	}

	// A new case, with a device secret.
	c2 := &proxmon.Case{ID: "case-2", Offender: "tag-2"}
	devs := []proxmon.Device{{ID: "tag-2", Kind: proxmon.DeviceTag, MQTTPasswordBcrypt: fakeHash('a')}}
	v1, err := s.PutCase(ctx, c2, devs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Devices[0].MQTTPasswordBcrypt != "" {
		t.Error("a secret read back")
	}
	if _, err := s.PutCase(ctx, c2, devs, 0); !errors.Is(err, centre.ErrCaseChanged) {
		t.Errorf("created twice: %v, want ErrCaseChanged", err)
	}
	// An edit without the secret keeps it.
	v2, err := s.PutCase(ctx, &proxmon.Case{ID: "case-2", Offender: "tag-2", Risk: proxmon.RiskHigh},
		[]proxmon.Device{{ID: "tag-2", Kind: proxmon.DeviceTag}}, v1.Revision)
	if err != nil || v2.Revision <= v1.Revision || v2.Case.Risk != proxmon.RiskHigh {
		t.Fatalf("update: %+v, %v", v2, err)
	}
	if _, err := s.PutCase(ctx, c2, devs, v1.Revision); !errors.Is(err, centre.ErrCaseChanged) {
		t.Errorf("update based on an old revision: %v, want ErrCaseChanged", err)
	}
	kv, _ := js.KeyValue(ctx, stream.Cases)
	e, err := kv.Get(ctx, "case-2")
	if err != nil || !strings.Contains(string(e.Value()), fakeHash('a')) {
		t.Fatalf("the secret was dropped: %s, %v", e.Value(), err)
	}
	// A new case with a device of another case keeps its secret too.
	if _, err := s.PutCase(ctx, &proxmon.Case{ID: "case-3", Offender: "tag-2"}, []proxmon.Device{{ID: "tag-2", Kind: proxmon.DeviceTag}}, 0); err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, "case-3"); err != nil || !strings.Contains(string(e.Value()), fakeHash('a')) {
		t.Fatalf("a new case dropped the secret in force: %s, %v", e.Value(), err)
	}
	if _, err := s.DeleteCase(ctx, "case-3", 0); err != nil {
		t.Fatal(err)
	}
	// An invalid case changes nothing.
	if _, err := s.PutCase(ctx, &proxmon.Case{ID: "case-2", Offender: "phone-1"}, nil, v2.Revision); !errors.Is(err, proxmon.ErrInvalid) {
		t.Errorf("invalid case: %v, want ErrInvalid", err)
	}
	if got, _ := s.Case(ctx, "case-2"); got.Revision != v2.Revision {
		t.Errorf("an invalid case was written: revision %d, want %d", got.Revision, v2.Revision)
	}

	list, err := s.Cases(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "case-1" || list[1].ID != "case-2" || list[1].Devices[0].MQTTPasswordBcrypt != "" {
		t.Fatalf("cases: %+v, %v", list, err)
	}

	if _, err := s.DeleteCase(ctx, "case-2", v1.Revision); !errors.Is(err, centre.ErrCaseChanged) {
		t.Errorf("delete based on an old revision: %v, want ErrCaseChanged", err)
	}
	del, err := s.DeleteCase(ctx, "case-2", v2.Revision)
	if err != nil || del.Operation != centre.CaseDelete || del.Revision <= v2.Revision {
		t.Fatalf("delete: %+v, %v", del, err)
	}
	if _, err := s.DeleteCase(ctx, "case-2", 0); !errors.Is(err, centre.ErrNoCase) {
		t.Errorf("deleted twice: %v, want ErrNoCase", err)
	}
	if _, err := s.Case(ctx, "case-2"); !errors.Is(err, centre.ErrNoCase) {
		t.Errorf("deleted case read: %v", err)
	}
	hist, err := s.CaseHistory(ctx, "case-2")
	if err != nil || len(hist) != 3 || hist[0].Revision != v1.Revision || hist[1].Revision != v2.Revision || hist[2].Revision != del.Revision ||
		hist[2].Case != nil || hist[0].Devices[0].MQTTPasswordBcrypt != "" {
		t.Fatalf("history: %+v, %v", hist, err)
	}
	if _, err := s.CaseHistory(ctx, "case-9"); !errors.Is(err, centre.ErrNoCase) {
		t.Errorf("history of no case: %v", err)
	}
	// Re-created after the deletion.
	if _, err := s.PutCase(ctx, c2, devs, 0); err != nil {
		t.Errorf("re-create: %v", err)
	}
	want := "case case-1,case case-2,case case-2,case case-3,deleted case-3,deleted case-2,case case-2"
	if got := strings.Join(logged(), ","); got != want {
		t.Errorf("FIXES: %s, want %s", got, want)
	}
}
