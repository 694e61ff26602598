package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/ingest"
	"github.com/proxmon/proxmon/stream"
	"github.com/proxmon/proxmon/track"
)

const trackPlayUsage = `usage: proxmon track play --device ID --from T1 --to T2 --as REPLAY-ID [--speed 60x] [--mqtt URL] [--password-file FILE]

Plays a stored track again, live: reads the device's fixes with GPS time in
[T1, T2) from the archive (FIXES) and publishes them to the devices' MQTT
topic proxmon/v1/devices/REPLAY-ID/fix as the device REPLAY-ID would, with
fresh times (the moment each is sent) and fresh seqs (from 1), keeping the
gaps between the fixes' GPS times divided by --speed. The engine evaluates
them as live, for drills and demonstrations. Late and duplicate fixes are
left out (they moved nothing then); impossible jumps are kept.

REPLAY-ID must be a device of a drill case (drill: true) with its MQTT
secret (--password-file): ingest rejects the fixes of a device no case uses
(unknown_device), so they would matter to nothing; and a replay id used by a
case that is not a drill is refused, since its alerts would be real.

Flags:
`

// speedFlag is a playing speed: "60x" or "60", more than 0.
type speedFlag struct{ f float64 }

func (s *speedFlag) String() string { return strconv.FormatFloat(s.f, 'f', -1, 64) + "x" }

func (s *speedFlag) Set(v string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64)
	if err != nil || !(f > 0) || math.IsInf(f, 0) {
		return errors.New("want a factor more than 0, such as 60x")
	}
	s.f = f
	return nil
}

func trackPlay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("track play", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conn     toolConn
		from, to timeFlag
	)
	speed := speedFlag{1}
	conn.flags(fs)
	device := fs.String("device", "", "`id` of the device whose track is played")
	gpsPeriodFlags(fs, &from, &to)
	fs.Var(&speed, "speed", "`factor` of time: 60x plays an hour in a minute")
	as := fs.String("as", "", "`id` of the replay device, a device of a drill case")
	broker := fs.String("mqtt", envOr("PROXMON_MQTT", "tcp://127.0.0.1:1883"), "the devices' MQTT broker `URL` (tcp:// or tls://, verified with --tls-ca) [PROXMON_MQTT]")
	username := fs.String("username", "", "MQTT user `name`; default the --as id, as a device connects")
	passwordFile := fs.String("password-file", "", "`file` with the replay device's MQTT secret (mode 0600); without it, no password")
	fs.Usage = func() {
		fmt.Fprint(stderr, trackPlayUsage)
		fs.PrintDefaults()
	}
	if code := parseTool(fs, args); code >= 0 {
		return code
	}
	var fault string
	switch {
	case fs.NArg() != 0:
		fault = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case !proxmon.ValidID(*device):
		fault = fmt.Sprintf("--device %q: want 1-64 characters of [A-Za-z0-9_-]", *device)
	case !proxmon.ValidID(*as):
		fault = fmt.Sprintf("--as %q: want 1-64 characters of [A-Za-z0-9_-]", *as)
	case *as == *device:
		fault = "--as: the replay id must differ from --device, whose track it plays"
	case from.t.IsZero() || to.t.IsZero() || !from.t.Before(to.t):
		fault = "--from and --to are required, --from before --to"
	}
	if fault != "" {
		fmt.Fprintf(stderr, "proxmon track play: %s\n", fault)
		fs.Usage()
		return exitUsage
	}
	p := player{as: *as, speed: speed.f, broker: *broker, username: *username}
	if p.username == "" {
		p.username = p.as
	}
	var err error
	if *passwordFile != "" {
		if p.password, err = readSecretFile(*passwordFile, 1); err != nil {
			fmt.Fprintf(stderr, "proxmon track play: --password-file: %v\n", err)
			return exitUsage
		}
	}
	if p.tls, err = conn.sec.tlsConfig(); err != nil {
		fmt.Fprintf(stderr, "proxmon track play: %v\n", err)
		return exitUsage
	}
	nc, js, err := conn.connect("proxmon track play")
	if err != nil {
		fmt.Fprintf(stderr, "proxmon track play: %v\n", err)
		return exitFault
	}
	defer nc.Close()
	if err := checkDrill(ctx, js, p.as); err != nil {
		fmt.Fprintf(stderr, "proxmon track play: --as %s: %v\n", p.as, err)
		return exitFault
	}
	fixes, err := playable(ctx, stream.NewArchive(js), track.Query{Device: *device, From: from.t, To: to.t})
	if err != nil {
		fmt.Fprintf(stderr, "proxmon track play: %v\n", err)
		return exitFault
	}
	if len(fixes) == 0 {
		fmt.Fprintf(stderr, "proxmon track play: no fixes of %s in [%s, %s)\n", *device, from.String(), to.String())
		return exitFault
	}
	fmt.Fprintf(stdout, "playing %d fixes of %s as %s at %sx: %s\n", len(fixes), *device, p.as,
		strconv.FormatFloat(p.speed, 'f', -1, 64), p.duration(fixes).Round(time.Millisecond))
	if err := p.play(ctx, fixes); err != nil {
		fmt.Fprintf(stderr, "proxmon track play: %v\n", err)
		return exitFault
	}
	fmt.Fprintf(stdout, "played %d fixes\n", len(fixes))
	return exitOK
}

// checkDrill refuses a replay device that no case uses (ingest would
// reject its fixes) or that a case other than a drill uses (its alerts
// would be real).
func checkDrill(ctx context.Context, js jetstream.JetStream, device string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops following the bucket
	book, err := stream.WatchCaseBook(ctx, js, nil)
	if err != nil {
		return err
	}
	cases := book.CasesOf(device)
	if len(cases) == 0 {
		return errors.New("no case in force uses this device: add it to a drill case (drill: true) with its MQTT secret, or ingest rejects its fixes as unknown_device")
	}
	for _, id := range cases {
		if c, ok := book.Case(id); ok && !c.Drill {
			return fmt.Errorf("case %s uses this device and is not a drill: a replay would raise real alerts", id)
		}
	}
	return nil
}

// playable returns the fixes of q to play, in log order: the points the
// engine took as positions and the impossible jumps; late and duplicate
// fixes moved nothing and are left out. A drill's track is short enough
// to hold, and holding it keeps the archive's consumer from waiting on
// the player.
func playable(ctx context.Context, log track.Log, q track.Query) ([]proxmon.Fix, error) {
	var out []proxmon.Fix
	err := track.Points(ctx, log, q, func(p *track.Point) error {
		if p.Flags&(track.FlagOutOfOrder|track.FlagDuplicate) == 0 {
			out = append(out, p.Fix)
		}
		return nil
	})
	return out, err
}

// player publishes fixes to the MQTT broker as device as.
type player struct {
	as                 string
	speed              float64
	broker             string
	username, password string
	tls                *tls.Config
}

// due returns when fix i is sent, from the start of the play: its GPS
// time's distance from the first fix's, divided by the speed (a fix
// older than the first, an impossible jump back, goes at once).
func (p *player) due(fixes []proxmon.Fix, i int) time.Duration {
	return max(0, time.Duration(float64(fixes[i].Time.Sub(fixes[0].Time))/p.speed))
}

// duration is how long the play takes.
func (p *player) duration(fixes []proxmon.Fix) time.Duration {
	var d time.Duration
	for i := range fixes {
		d = max(d, p.due(fixes, i))
	}
	return d
}

// play sends every fix at its due time, each as new: the replay device's
// id, seq i+1, the time it is sent. Each waits for the broker's PUBACK
// (QoS 1), so a fix the broker did not take stops the play with an error.
func (p *player) play(ctx context.Context, fixes []proxmon.Fix) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(p.broker).
		SetClientID("proxmon-play-" + p.as).SetUsername(p.username).SetPassword(p.password).
		SetTLSConfig(p.tls).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).SetKeepAlive(10 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("mqtt %s as %s: connect: %v", p.broker, p.username, cmpErr(tok.Error(), "timed out"))
	}
	defer c.Disconnect(250)
	topic := ingest.TopicPrefix + p.as + "/fix"
	timer := time.NewTimer(0)
	defer timer.Stop()
	start := time.Now()
	for i := range fixes {
		timer.Reset(time.Until(start.Add(p.due(fixes, i))))
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped after %d of %d fixes: %w", i, len(fixes), ctx.Err())
		case <-timer.C:
		}
		f := fixes[i]
		f.Device, f.Seq, f.Time, f.Received = p.as, uint64(i+1), time.Now().UTC(), time.Time{}
		tok := c.Publish(topic, 1, false, ingest.EncodeFix(f))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("publish fix %d of %d to %s: %v", i+1, len(fixes), topic, cmpErr(tok.Error(), "no PUBACK within 10s"))
		}
	}
	return nil
}

// cmpErr returns err, or an error saying what happened when there is none
// (a token that timed out).
func cmpErr(err error, otherwise string) error {
	if err != nil {
		return err
	}
	return errors.New(otherwise)
}
