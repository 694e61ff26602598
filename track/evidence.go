package track

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// An evidence package is a directory of three files:
//
//	records.ndjson  one record a line: {"i":N,"prev":"<hex SHA-256 of line N-1>","point":{...}}
//	manifest.json   what the package holds: device, period, count, the hash of the
//	                last line (head), the SHA-256 of records.ndjson, the public key
//	manifest.sig    base64 Ed25519 signature of manifest.json's bytes
//
// Line 0's prev is 64 zeros. A line's hash is SHA-256 of its bytes without
// the newline. Changing, dropping or moving a line breaks the chain at that
// line; changing the manifest breaks the signature.
const (
	RecordsFile   = "records.ndjson"
	ManifestFile  = "manifest.json"
	SignatureFile = "manifest.sig"
	// EvidenceFormat names this layout in the manifest.
	EvidenceFormat = "proxmon-evidence/1"
)

var genesis = make([]byte, sha256.Size)

// Manifest describes an evidence package; it is what the key signs.
type Manifest struct {
	Format        string    `json:"format"`
	Device        string    `json:"device"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	Count         int       `json:"count"`
	Head          string    `json:"head"` // hex SHA-256 of the last line; of nothing for none
	RecordsSHA256 string    `json:"records_sha256"`
	PublicKey     string    `json:"public_key"` // base64 Ed25519
	KeyID         string    `json:"key_id"`     // hex of the first 8 bytes of SHA-256(public key)
}

type evidenceRecord struct {
	I     int             `json:"i"`
	Prev  string          `json:"prev"`
	Point json.RawMessage `json:"point"`
}

// KeyID is a short fingerprint of a public key.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// WriteEvidence writes the track q selects as an evidence package into dir
// (created; it must not hold one already), signed with key.
func WriteEvidence(ctx context.Context, log Log, q Query, dir string, key ed25519.PrivateKey) (*Manifest, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, RecordsFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fileHash := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, fileHash), 64<<10)
	prev := genesis
	var (
		line []byte
		n    int
		sum  [sha256.Size]byte
	)
	err = Points(ctx, log, q, func(p *Point) error {
		pj, err := json.Marshal(p.json())
		if err != nil {
			return err
		}
		if line, err = json.Marshal(evidenceRecord{I: n, Prev: hex.EncodeToString(prev), Point: pj}); err != nil {
			return err
		}
		sum = sha256.Sum256(line)
		prev = sum[:]
		n++
		line = append(line, '\n')
		_, err = bw.Write(line)
		return err
	})
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	m := &Manifest{Format: EvidenceFormat, Device: q.Device, From: q.From.UTC(), To: q.To.UTC(), Count: n,
		Head: hex.EncodeToString(prev), RecordsSHA256: hex.EncodeToString(fileHash.Sum(nil)),
		PublicKey: base64.StdEncoding.EncodeToString(pub), KeyID: KeyID(pub)}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	mb = append(mb, '\n')
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o600); err != nil {
		return nil, err
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, mb)) + "\n"
	if err := os.WriteFile(filepath.Join(dir, SignatureFile), []byte(sig), 0o600); err != nil {
		return nil, err
	}
	return m, nil
}

// Fault is what Verify found wrong.
type Fault string

// Faults.
const (
	FaultSignature Fault = "signature" // the manifest is not signed by the key
	FaultAltered   Fault = "altered"   // the record's bytes changed
	FaultMissing   Fault = "missing"   // the record is not in the file
	FaultReordered Fault = "reordered" // the record is not in its place
	FaultExtra     Fault = "extra"     // a line beyond the manifest's count
)

// ErrEvidence is wrapped by every VerifyError.
var ErrEvidence = errors.New("evidence does not verify")

// VerifyError names the first fault of a package: the record (its index,
// counted from 0; -1 for the manifest) and what is wrong with it.
type VerifyError struct {
	Record int
	Fault  Fault
	Detail string
}

func (e *VerifyError) Error() string {
	if e.Record < 0 {
		return fmt.Sprintf("%v: %s: %s", ErrEvidence, e.Fault, e.Detail)
	}
	return fmt.Sprintf("%v: record %d %s: %s", ErrEvidence, e.Record, e.Fault, e.Detail)
}

func (e *VerifyError) Unwrap() error { return ErrEvidence }

// Verify checks the package in dir: the manifest's signature (by trusted
// when given, else by the key the manifest names, which the caller should
// compare with the service's), then the chain, record by record. It
// returns the manifest, or a *VerifyError naming the first altered,
// missing or reordered record.
func Verify(dir string, trusted ed25519.PublicKey) (*Manifest, error) {
	mb, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	sb, err := os.ReadFile(filepath.Join(dir, SignatureFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, &VerifyError{Record: -1, Fault: FaultSignature, Detail: "manifest does not parse: " + err.Error()}
	}
	pub, err := base64.StdEncoding.DecodeString(m.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, &VerifyError{Record: -1, Fault: FaultSignature, Detail: "manifest has no valid public key"}
	}
	if trusted != nil && !bytes.Equal(trusted, pub) {
		return nil, &VerifyError{Record: -1, Fault: FaultSignature, Detail: "signed by key " + KeyID(pub) + ", not by the trusted key " + KeyID(trusted)}
	}
	sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(sb)))
	if err != nil || !ed25519.Verify(pub, mb, sig) {
		return nil, &VerifyError{Record: -1, Fault: FaultSignature, Detail: "the manifest's signature does not verify"}
	}
	if m.Format != EvidenceFormat || m.Count < 0 {
		return nil, &VerifyError{Record: -1, Fault: FaultSignature, Detail: "unknown format " + m.Format}
	}
	present, err := indices(dir, m.Count)
	if err != nil {
		return nil, err
	}
	if err := verifyChain(dir, &m, present); err != nil {
		return nil, err
	}
	return &m, nil
}

// indices returns which record indices the file holds (a bit per record
// of the manifest: memory is count/8 bytes).
func indices(dir string, count int) ([]bool, error) {
	present := make([]bool, count)
	err := eachLine(dir, func(_ int, line []byte) error {
		var r evidenceRecord
		if json.Unmarshal(line, &r) == nil && r.I >= 0 && r.I < count {
			present[r.I] = true
		}
		return nil
	})
	return present, err
}

func verifyChain(dir string, m *Manifest, present []bool) error {
	fileHash := sha256.New()
	var (
		prevHash = hex.EncodeToString(genesis)
		pend     *pending // the line awaiting the next one's prev
		fault    error
	)
	check := func(p *pending, nextPrev string, hasNext bool) error {
		switch {
		case !p.ok:
			return &VerifyError{Record: p.pos, Fault: FaultAltered, Detail: "the line does not parse"}
		case p.rec.Prev == p.prevHash && p.rec.I == p.pos:
			return nil
		case p.rec.Prev == p.prevHash:
			// In its place by the chain, with another index: the index changed.
			return &VerifyError{Record: p.pos, Fault: FaultAltered, Detail: fmt.Sprintf("the line says record %d", p.rec.I)}
		case p.rec.I > p.pos && (p.pos >= len(present) || !present[p.pos]):
			return &VerifyError{Record: p.pos, Fault: FaultMissing, Detail: fmt.Sprintf("line %d holds record %d", p.pos+1, p.rec.I)}
		case p.rec.I != p.pos:
			return &VerifyError{Record: p.pos, Fault: FaultReordered, Detail: fmt.Sprintf("line %d holds record %d", p.pos+1, p.rec.I)}
		}
		// In its place by index, but the previous line's hash differs:
		// either the previous line changed (this line, and so the next
		// one's prev, still hash as written) or this one did.
		next := m.Head
		if hasNext {
			next = nextPrev
		}
		if next == p.hash {
			return &VerifyError{Record: p.pos - 1, Fault: FaultAltered, Detail: "its hash is not the one the next record carries"}
		}
		return &VerifyError{Record: p.pos, Fault: FaultAltered, Detail: "its prev is not the hash of the record before"}
	}
	err := eachLine(dir, func(pos int, line []byte) error {
		fileHash.Write(line)
		fileHash.Write([]byte{'\n'})
		p := &pending{pos: pos, prevHash: prevHash}
		p.ok = json.Unmarshal(line, &p.rec) == nil
		sum := sha256.Sum256(line)
		p.hash = hex.EncodeToString(sum[:])
		prevHash = p.hash
		if pend != nil {
			nextPrev := ""
			if p.ok {
				nextPrev = p.rec.Prev
			}
			if err := check(pend, nextPrev, true); err != nil {
				fault = err
				return errStop
			}
		}
		pend = p
		return nil
	})
	if fault != nil {
		return fault
	}
	if err != nil {
		return err
	}
	if pend != nil {
		if err := check(pend, "", false); err != nil {
			return err
		}
	}
	n := 0
	if pend != nil {
		n = pend.pos + 1
	}
	switch {
	case n < m.Count:
		return &VerifyError{Record: n, Fault: FaultMissing, Detail: fmt.Sprintf("the file ends after %d of %d records", n, m.Count)}
	case n > m.Count:
		return &VerifyError{Record: m.Count, Fault: FaultExtra, Detail: fmt.Sprintf("%d records, the manifest signed %d", n, m.Count)}
	case prevHash != m.Head && n > 0:
		return &VerifyError{Record: n - 1, Fault: FaultAltered, Detail: "the last record's hash is not the signed head"}
	case hex.EncodeToString(fileHash.Sum(nil)) != m.RecordsSHA256:
		return &VerifyError{Record: -1, Fault: FaultAltered, Detail: RecordsFile + " differs from the signed hash outside the records (line ends)"}
	}
	return nil
}

type pending struct {
	pos      int
	ok       bool
	rec      evidenceRecord
	hash     string
	prevHash string
}

var errStop = errors.New("stop")

// eachLine calls fn with each line of the records file, without its
// newline.
func eachLine(dir string, fn func(pos int, line []byte) error) error {
	f, err := os.Open(filepath.Join(dir, RecordsFile))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for pos := 0; sc.Scan(); pos++ {
		if err := fn(pos, sc.Bytes()); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return sc.Err()
}

// LoadOrCreateKey reads the service's Ed25519 evidence key (PKCS #8 PEM)
// from path; when the file does not exist it generates one (mode 0600)
// and writes its public key to path.pub. A key file others can read is
// refused.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return key, nil
}

func createKey(path string) (ed25519.PrivateKey, error) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return key, os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644)
}

// LoadPublicKey reads a PEM public key (as LoadOrCreateKey writes to
// path.pub).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: not a PEM public key", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return pub, nil
}
