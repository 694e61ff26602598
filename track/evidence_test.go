package track_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/proxmon/proxmon/track"
)

func mustEvidence(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	a, q := exportFixture(t)
	keyPath := filepath.Join(t.TempDir(), "evidence-key")
	key, err := track.LoadOrCreateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v, want mode 0600", fi.Mode(), err)
	}
	again, err := track.LoadOrCreateKey(keyPath)
	if err != nil || !again.Equal(key) {
		t.Fatalf("the key was not kept: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "evidence")
	m, err := track.WriteEvidence(t.Context(), a, q, dir, key)
	if err != nil {
		t.Fatal(err)
	}
	if m.Count != 5 {
		t.Fatalf("%d records, want 5", m.Count)
	}
	return dir, key
}

// editLines rewrites the records file through fn.
func editLines(t *testing.T, dir string, fn func(lines [][]byte) [][]byte) {
	t.Helper()
	path := filepath.Join(dir, track.RecordsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	lines = lines[:len(lines)-1] // after the last newline
	if err := os.WriteFile(path, bytes.Join(fn(lines), nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// flip changes one byte of a line's point (a digit of its latitude).
func flip(line []byte) []byte {
	out := bytes.Clone(line)
	i := bytes.Index(out, []byte(`"lat":51.`)) + len(`"lat":51.`)
	out[i] ^= 1
	return out
}

func TestEvidence(t *testing.T) {
	pub := func(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
	tests := []struct {
		name   string
		edit   func(lines [][]byte) [][]byte
		record int
		fault  track.Fault
	}{
		{"intact", func(l [][]byte) [][]byte { return l }, 0, ""},
		{"flip a byte", func(l [][]byte) [][]byte { l[2] = flip(l[2]); return l }, 2, track.FaultAltered},
		{"flip a byte of the first", func(l [][]byte) [][]byte { l[0] = flip(l[0]); return l }, 0, track.FaultAltered},
		{"flip a byte of the last", func(l [][]byte) [][]byte { l[4] = flip(l[4]); return l }, 4, track.FaultAltered},
		{"flip a byte of a prev", func(l [][]byte) [][]byte { l[3][bytes.Index(l[3], []byte(`"prev":"`))+9] ^= 1; return l }, 3, track.FaultAltered},
		{"drop one", func(l [][]byte) [][]byte { return append(l[:3:3], l[4:]...) }, 3, track.FaultMissing},
		{"drop the last", func(l [][]byte) [][]byte { return l[:4] }, 4, track.FaultMissing},
		{"swap two", func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, 1, track.FaultReordered},
		{"not JSON", func(l [][]byte) [][]byte { l[2] = l[2][5:]; return l }, 2, track.FaultAltered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, key := mustEvidence(t)
			editLines(t, dir, tt.edit)
			m, err := track.Verify(dir, pub(key))
			if tt.fault == "" {
				if err != nil || m.Count != 5 {
					t.Fatalf("intact package: %v", err)
				}
				return
			}
			var verr *track.VerifyError
			if !errors.As(err, &verr) || !errors.Is(err, track.ErrEvidence) {
				t.Fatalf("Verify = %v, want a VerifyError", err)
			}
			if verr.Record != tt.record || verr.Fault != tt.fault {
				t.Errorf("Verify named record %d %s (%v), want record %d %s", verr.Record, verr.Fault, err, tt.record, tt.fault)
			}
		})
	}
	t.Run("manifest", func(t *testing.T) {
		dir, key := mustEvidence(t)
		path := filepath.Join(dir, track.ManifestFile)
		b, _ := os.ReadFile(path)
		if err := os.WriteFile(path, bytes.Replace(b, []byte(`"count": 5`), []byte(`"count": 4`), 1), 0o600); err != nil {
			t.Fatal(err)
		}
		var verr *track.VerifyError
		if _, err := track.Verify(dir, pub(key)); !errors.As(err, &verr) || verr.Fault != track.FaultSignature {
			t.Errorf("an edited manifest: %v", err)
		}
	})
	t.Run("another key", func(t *testing.T) {
		dir, _ := mustEvidence(t)
		other, _, _ := ed25519.GenerateKey(nil)
		var verr *track.VerifyError
		if _, err := track.Verify(dir, other); !errors.As(err, &verr) || verr.Fault != track.FaultSignature {
			t.Errorf("a package signed by another key: %v", err)
		}
	})
}
