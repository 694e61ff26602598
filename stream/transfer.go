package stream

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The archive transfer moves the log (FIXES) and the rejected payloads
// (REJECTED) to another installation without loss: every message with its
// subject, headers, payload, original sequence and store time.
//
// Imported history goes to its own stream, ARCHIVE (subjects
// proxmon.archive.{import}.{original subject}), never into FIXES: the live
// engine reads FIXES alone, so an import can never be taken for fixes
// happening now, and the receiving installation's own log is untouched.
// The original sequence, time, stream and Nats-Msg-Id travel in headers
// (JetStream sets its own sequence and time and would deduplicate by the
// message id), and an export of an import restores them, so the contents
// hash of a round trip equals the original's.
const (
	// Imported is the stream of imported history.
	Imported       = "ARCHIVE"
	subjImported   = "proxmon.archive."
	headerOrigSeq  = "Proxmon-Archive-Seq"
	headerOrigTime = "Proxmon-Archive-Time"
	headerOrigStr  = "Proxmon-Archive-Stream"
	headerOrigID   = "Proxmon-Archive-Msg-Id"
	// TransferManifest is the manifest file of an archive directory.
	TransferManifest = "manifest.json"
)

// transferred are the streams an archive directory holds, one NDJSON file
// each.
var transferred = []string{Fixes, Rejected}

// transferMsg is one line of an archive file.
type transferMsg struct {
	Seq     uint64              `json:"seq"`
	Time    time.Time           `json:"time"`
	Subject string              `json:"subject"`
	Header  map[string][]string `json:"header,omitempty"`
	Data    []byte              `json:"data"`
}

// TransferSummary is the manifest of an archive directory.
type TransferSummary struct {
	From, To time.Time
	Streams  map[string]StreamSummary `json:"streams"`
}

// StreamSummary is one stream of an archive directory: how many messages,
// the SHA-256 of its file, and the contents hash: SHA-256 over every
// message's sequence, time, subject, headers and payload, in order, which
// is the same wherever the messages are stored.
type StreamSummary struct {
	Messages int    `json:"messages"`
	File     string `json:"file"`
	FileHash string `json:"file_sha256"`
	Contents string `json:"contents_sha256"`
}

// ExportArchive writes the messages of FIXES and REJECTED stored in
// [from, to) (zero: no bound) into dir, one NDJSON file per stream, and a
// manifest. With imported set, it exports the history imported under that
// name instead, as it was in its original installation.
func ExportArchive(ctx context.Context, js jetstream.JetStream, from, to time.Time, dir, imported string) (*TransferSummary, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sum := &TransferSummary{From: from, To: to, Streams: map[string]StreamSummary{}}
	for _, name := range transferred {
		ss, err := exportStream(ctx, js, name, from, to, dir, imported)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", name, err)
		}
		sum.Streams[name] = ss
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, err
	}
	return sum, os.WriteFile(filepath.Join(dir, TransferManifest), append(b, '\n'), 0o600)
}

func exportStream(ctx context.Context, js jetstream.JetStream, name string, from, to time.Time, dir, imported string) (StreamSummary, error) {
	ss := StreamSummary{File: name + ".ndjson"}
	f, err := os.OpenFile(filepath.Join(dir, ss.File), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return ss, err
	}
	defer f.Close()
	fh, ch := sha256.New(), sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, fh), 256<<10)
	enc := json.NewEncoder(bw)
	emit := func(tm *transferMsg) error {
		if (!from.IsZero() && tm.Time.Before(from)) || (!to.IsZero() && !tm.Time.Before(to)) {
			return nil
		}
		ss.Messages++
		contentsHash(ch, tm)
		return enc.Encode(tm)
	}
	if imported == "" {
		err = scanStream(ctx, js, name, "", 0, from, to, func(m jetstream.Msg, md *jetstream.MsgMetadata) error {
			return emit(&transferMsg{Seq: md.Sequence.Stream, Time: md.Timestamp.UTC(), Subject: m.Subject(),
				Header: m.Headers(), Data: m.Data()})
		})
	} else {
		if !validImportName(imported) {
			return ss, fmt.Errorf("import name %q: want 1-64 characters of [A-Za-z0-9_-]", imported)
		}
		prefix := subjImported + imported + "."
		err = scanStream(ctx, js, Imported, prefix+">", 0, time.Time{}, time.Time{}, func(m jetstream.Msg, _ *jetstream.MsgMetadata) error {
			h := m.Headers()
			if h.Get(headerOrigStr) != name {
				return nil
			}
			tm, err := restore(m.Subject(), prefix, h, m.Data())
			if err != nil {
				return err
			}
			return emit(tm)
		})
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = nil
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	ss.FileHash = hex.EncodeToString(fh.Sum(nil))
	ss.Contents = hex.EncodeToString(ch.Sum(nil))
	return ss, err
}

// restore returns an imported message as it was before the import.
func restore(subject, prefix string, h nats.Header, data []byte) (*transferMsg, error) {
	seq, err := strconv.ParseUint(h.Get(headerOrigSeq), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("imported message without its sequence: %w", err)
	}
	at, err := time.Parse(time.RFC3339Nano, h.Get(headerOrigTime))
	if err != nil {
		return nil, fmt.Errorf("imported message without its time: %w", err)
	}
	orig := nats.Header{}
	for k, v := range h {
		switch k {
		case headerOrigSeq, headerOrigTime, headerOrigStr, jetstream.MsgIDHeader: // the import's own
		case headerOrigID:
			orig[jetstream.MsgIDHeader] = v
		default:
			orig[k] = v
		}
	}
	if len(orig) == 0 {
		orig = nil
	}
	return &transferMsg{Seq: seq, Time: at.UTC(), Subject: strings.TrimPrefix(subject, prefix), Header: orig, Data: data}, nil
}

// contentsHash adds a message to the contents hash: each field length-
// prefixed, headers sorted.
func contentsHash(h hash.Hash, tm *transferMsg) {
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field(strconv.AppendUint(nil, tm.Seq, 10))
	field(tm.Time.UTC().AppendFormat(nil, time.RFC3339Nano))
	field([]byte(tm.Subject))
	keys := make([]string, 0, len(tm.Header))
	for k := range tm.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range tm.Header[k] {
			field([]byte(k))
			field([]byte(v))
		}
	}
	field(tm.Data)
}

func validImportName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ImportArchive stores the archive directory dir into the ARCHIVE stream
// under the name given (created when missing; same retention as FIXES is
// not applied: imported history is kept until deleted). It checks every
// file against the manifest first, and returns the messages imported per
// stream. Importing the same directory twice under one name stores each
// message once.
func ImportArchive(ctx context.Context, js jetstream.JetStream, dir, name string) (map[string]int, error) {
	if !validImportName(name) {
		return nil, fmt.Errorf("import name %q: want 1-64 characters of [A-Za-z0-9_-]", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, TransferManifest))
	if err != nil {
		return nil, err
	}
	var sum TransferSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", TransferManifest, err)
	}
	for _, s := range transferred {
		ss, ok := sum.Streams[s]
		if !ok {
			continue
		}
		got, err := fileHash(filepath.Join(dir, ss.File))
		if err != nil {
			return nil, err
		}
		if got != ss.FileHash {
			return nil, fmt.Errorf("%s: SHA-256 %s, the manifest says %s: the archive is damaged", ss.File, got, ss.FileHash)
		}
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        Imported,
		Description: "proxmon imported history: never read by the live engine",
		Subjects:    []string{subjImported + ">"},
		Storage:     jetstream.FileStorage,
		Duplicates:  time.Hour,
		AllowDirect: true,
	}); err != nil {
		return nil, fmt.Errorf("stream %s: %w", Imported, err)
	}
	counts := map[string]int{}
	for _, s := range transferred {
		ss, ok := sum.Streams[s]
		if !ok {
			continue
		}
		n, err := importFile(ctx, js, filepath.Join(dir, ss.File), s, name)
		counts[s] = n
		if err != nil {
			return counts, fmt.Errorf("import %s: %w", ss.File, err)
		}
	}
	return counts, nil
}

func importFile(ctx context.Context, js jetstream.JetStream, path, streamName, name string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 256<<10))
	n := 0
	var futs []jetstream.PubAckFuture
	wait := func() error {
		for _, fut := range futs {
			select {
			case <-fut.Ok():
			case err := <-fut.Err():
				return fmt.Errorf("message %s: %w", fut.Msg().Header.Get(headerOrigSeq), err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futs = futs[:0]
		return nil
	}
	for dec.More() {
		var tm transferMsg
		if err := dec.Decode(&tm); err != nil {
			return n, err
		}
		m := nats.NewMsg(subjImported + name + "." + tm.Subject)
		m.Data = tm.Data
		for k, v := range tm.Header {
			if k == jetstream.MsgIDHeader {
				k = headerOrigID
			}
			m.Header[k] = v
		}
		m.Header.Set(headerOrigSeq, strconv.FormatUint(tm.Seq, 10))
		m.Header.Set(headerOrigTime, tm.Time.UTC().Format(time.RFC3339Nano))
		m.Header.Set(headerOrigStr, streamName)
		m.Header.Set(jetstream.MsgIDHeader, name+":"+streamName+":"+strconv.FormatUint(tm.Seq, 10))
		fut, err := js.PublishMsgAsync(m)
		if err != nil {
			return n, err
		}
		futs = append(futs, fut)
		n++
		if len(futs) == 1024 {
			if err := wait(); err != nil {
				return n, err
			}
		}
	}
	return n, wait()
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
