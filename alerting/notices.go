package alerting

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/proxmon/proxmon"
	"github.com/proxmon/proxmon/proto/proxmonv1"
)

// Topics (DESIGN.md "MQTT").
const (
	TopicPrefix  = "proxmon/v1/devices/"
	warningLevel = "/warning"
	commandLevel = "/command"
)

// Cases looks up the rules behind events: a case's contact bans (their
// thresholds, their pursuit_tag opt-in) and a device's configured report
// interval.
type Cases interface {
	Case(id string) (*proxmon.Case, bool)
	Device(id string) (proxmon.Device, bool)
}

// Message is one MQTT message to a device: a Warning to a protected
// person's device, or a Command.
type Message struct {
	Device  string
	Warning *proxmonv1.Warning
	Command *proxmonv1.Command
}

// Topic returns the message's MQTT topic.
func (m *Message) Topic() string {
	if m.Warning != nil {
		return TopicPrefix + m.Device + warningLevel
	}
	return TopicPrefix + m.Device + commandLevel
}

// Payload returns the message's protobuf encoding.
func (m *Message) Payload() ([]byte, error) {
	if m.Warning != nil {
		return proto.Marshal(m.Warning)
	}
	return proto.Marshal(m.Command)
}

// Timing says how long what the devices are told holds, and how often it
// is renewed.
type Timing struct {
	// WarningTTL is how long a warning holds on the device unless renewed;
	// default 3 min.
	WarningTTL time.Duration
	// PursuitTTL is how long a report interval command holds; default
	// 3 min.
	PursuitTTL time.Duration
	// RenewEvery is how often open warnings and pursuit commands are sent
	// again, with a new expiry; default 1 min. Must be well below both
	// TTLs.
	RenewEvery time.Duration
	// PursuitInterval is the longest report interval in pursuit mode;
	// default 15 s. A device configured to report more often keeps its
	// own interval: pursuit never slows a device down.
	PursuitInterval time.Duration
	// VibrateFor is how long a tag vibrates on a zone approach; default
	// 2 s. VibrateTTL is how long after the approach the command still
	// makes sense; default 1 min.
	VibrateFor, VibrateTTL time.Duration
}

func (t *Timing) ensureDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.WarningTTL, 3*time.Minute)
	def(&t.PursuitTTL, 3*time.Minute)
	def(&t.RenewEvery, time.Minute)
	def(&t.PursuitInterval, 15*time.Second)
	def(&t.VibrateFor, 2*time.Second)
	def(&t.VibrateTTL, time.Minute)
}

// Notices decides what the devices are told about the events: the warning
// level of each protected person's device, pursuit mode, and the commands
// to tags. It holds the open conditions that concern each protected person
// and is fed the events in EVENTS order. It does no I/O; Apply and Renew
// return the messages to send. Not safe for concurrent use.
//
// What reaches a tag is decided from the event's OffenderView only, and
// never derives from a contact ban unless the ban opts in to pursuit_tag,
// and then only as a report interval with no reason, a random id and the
// time of sending.
type Notices struct {
	cases Cases
	t     Timing
	// newID returns a fresh random command id.
	newID func() string

	victims map[string]*victim
	// unknownOf: the victims a tag's signal_lost or gps_lost concerns, by
	// condition key, as they were when it opened.
	unknownOf map[string][]string
	// tagRaisers counts, per tag, the open conditions that raise its
	// report rate (pursuit_tag); tagRaised says whether it was told so.
	tagRaisers map[string]int
	tagRaised  map[string]bool

	// touched holds, per device, the last messages that events taken in
	// by Absorb called for; Flush sends them.
	touched map[string]*touch
}

// touch is the state a device would have been told.
type touch struct {
	warning  *proxmonv1.Warning
	interval *proxmonv1.Command
}

// victim is what a protected person's device has been told.
type victim struct {
	conds   map[string]*condition
	pursuit bool // told to report at the pursuit rate
}

// condition is an open condition that concerns a protected person.
type condition struct {
	level   proxmonv1.WarningLevel
	withinM uint32
	openID  string
	time    time.Time
	drill   bool
	contact bool   // a contact warning or breach: pursuit mode
	tag     string // the tag it raises, when the ban opts in to pursuit_tag
}

// NewNotices returns Notices that look cases up in cases.
func NewNotices(cases Cases, t Timing) *Notices {
	t.ensureDefaults()
	return &Notices{
		cases: cases, t: t, newID: randomID,
		victims: map[string]*victim{}, unknownOf: map[string][]string{},
		tagRaisers: map[string]int{}, tagRaised: map[string]bool{},
		touched: map[string]*touch{},
	}
}

// Apply takes the next event and returns the messages it calls for, sent
// at now (the wall clock: expiries count from it).
func (n *Notices) Apply(ev *proxmon.Event, now time.Time) []Message {
	switch ev.Type {
	case proxmon.ContactBreach, proxmon.ContactWarning:
		return n.contact(ev, now)
	case proxmon.SignalLost, proxmon.GPSLost:
		return n.unknown(ev, now)
	case proxmon.ZoneApproach:
		view := ev.OffenderView()
		return n.zoneApproach(&view, now)
	}
	return nil
}

// Absorb takes an event that is too old for its own messages (a backlog
// after an outage, a first start on a long history): its device's state
// changes, but only the state the devices end up in is sent, by Flush
// (a vibration for a past approach is dropped). A protected person does not
// need to relive an hour of warnings in a minute.
func (n *Notices) Absorb(ev *proxmon.Event, now time.Time) {
	for _, m := range n.Apply(ev, now) {
		t := n.touched[m.Device]
		if t == nil {
			t = &touch{}
			n.touched[m.Device] = t
		}
		switch {
		case m.Warning != nil:
			t.warning = m.Warning
		case m.Command.GetSetReportInterval() != nil:
			t.interval = m.Command
		}
	}
}

// Flush returns, for every device that absorbed events changed, the
// warning and report interval it is in now, expiring from now. The last
// message a device would have had is its state: later events did not
// concern it.
func (n *Notices) Flush(now time.Time) []Message {
	var msgs []Message
	for _, dev := range sortedKeys(n.touched) {
		t := n.touched[dev]
		if t.warning != nil {
			w := proto.CloneOf(t.warning)
			w.Expires = timestamppb.New(now.Add(n.t.WarningTTL))
			msgs = append(msgs, Message{Device: dev, Warning: w})
		}
		if t.interval != nil {
			c := proto.CloneOf(t.interval)
			c.Time, c.Expires = timestamppb.New(now), timestamppb.New(now.Add(n.t.PursuitTTL))
			msgs = append(msgs, Message{Device: dev, Command: c})
		}
	}
	clear(n.touched)
	return msgs
}

// Pending reports whether Flush has messages to send.
func (n *Notices) Pending() bool { return len(n.touched) > 0 }

// contact follows a contact warning or breach: the protected person is
// warned with the band of the ban's threshold, her device goes into
// pursuit mode, and the tag too when the ban opts in.
func (n *Notices) contact(ev *proxmon.Event, now time.Time) []Message {
	vid := ev.Protected
	if !proxmon.ValidID(vid) || ev.Phase == proxmon.PhasePoint {
		return nil
	}
	v := n.victim(vid)
	key := ev.Case + "\x00" + string(ev.Type)
	if ev.Phase == proxmon.PhaseOpen {
		c := &condition{level: proxmonv1.WarningLevel_WARNING_LEVEL_CAUTION, openID: ev.ID,
			time: ev.Time, drill: ev.Drill, contact: true}
		if ev.Type == proxmon.ContactBreach {
			c.level = proxmonv1.WarningLevel_WARNING_LEVEL_DANGER
		}
		if b := n.ban(ev.Case, vid); b != nil {
			c.withinM = band(b.WarnM)
			if ev.Type == proxmon.ContactBreach {
				c.withinM = band(b.AlertM)
			}
			if b.PursuitTag && proxmon.ValidID(ev.Device) {
				c.tag = ev.Device
			}
		}
		n.set(v, key, c)
	} else {
		n.remove(v, key)
	}
	msgs := []Message{n.warning(vid, v, ev.ID, ev.Time, ev.Drill, now)}
	if m, ok := n.pursuit(vid, v, ev.ID, now); ok {
		msgs = append(msgs, m)
	}
	if m, ok := n.tagPursuit(ev.Device, now); ok {
		msgs = append(msgs, m)
	}
	n.tidy(vid)
	return msgs
}

// unknown follows signal_lost and gps_lost of a case's offender: while
// they are open, the protected persons of its contact bans cannot be told
// he is away.
func (n *Notices) unknown(ev *proxmon.Event, now time.Time) []Message {
	key := ev.Case + "\x00" + string(ev.Type) + "\x00" + ev.Device
	var vids []string
	switch ev.Phase {
	case proxmon.PhaseOpen:
		c, ok := n.cases.Case(ev.Case)
		if !ok || c.Offender != ev.Device {
			return nil // a protected person's own device, or a case gone
		}
		for _, b := range c.ContactBans {
			if proxmon.ValidID(b.Protected) && !slices.Contains(vids, b.Protected) {
				vids = append(vids, b.Protected)
			}
		}
		if len(vids) == 0 {
			return nil
		}
		n.unknownOf[key] = vids
		for _, vid := range vids {
			n.set(n.victim(vid), key, &condition{level: proxmonv1.WarningLevel_WARNING_LEVEL_UNKNOWN,
				openID: ev.ID, time: ev.Time, drill: ev.Drill})
		}
	case proxmon.PhaseClose:
		vids = n.unknownOf[key]
		delete(n.unknownOf, key)
		for _, vid := range vids {
			n.remove(n.victim(vid), key)
		}
	}
	msgs := make([]Message, 0, len(vids))
	for _, vid := range vids {
		msgs = append(msgs, n.warning(vid, n.victim(vid), ev.ID, ev.Time, ev.Drill, now))
		n.tidy(vid)
	}
	return msgs
}

// zoneApproach tells the tag to vibrate when it approaches an exclusion
// zone: a place its wearer knows from his order. It sees only the
// offender's view of the event.
func (n *Notices) zoneApproach(ev *proxmon.Event, now time.Time) []Message {
	if ev.Phase != proxmon.PhaseOpen || !proxmon.ValidID(ev.Device) {
		return nil
	}
	expires := ev.Time.Add(n.t.VibrateTTL)
	if !expires.After(now) {
		return nil // the approach is long past: vibrating now means nothing
	}
	return []Message{{Device: ev.Device, Command: &proxmonv1.Command{
		Id: derivedID(ev.ID, "vibrate"), Time: timestamppb.New(now), Expires: timestamppb.New(expires),
		Reason: proxmonv1.CommandReason_COMMAND_REASON_ZONE_APPROACH,
		Action: &proxmonv1.Command_Vibrate{Vibrate: &proxmonv1.Vibrate{DurationMs: uint32(n.t.VibrateFor.Milliseconds())}},
	}}}
}

// Renew returns, for every device with something open, its current warning
// and pursuit command again with a new expiry: a device that stops hearing
// from proxmon lets them lapse instead of showing them as current.
func (n *Notices) Renew(now time.Time) []Message {
	var msgs []Message
	for _, vid := range sortedKeys(n.victims) {
		v := n.victims[vid]
		if c := v.effective(); c != nil {
			msgs = append(msgs, n.warning(vid, v, c.openID, c.time, c.drill, now))
		}
		if v.pursuit {
			msgs = append(msgs, n.reportInterval(vid, n.pursuitInterval(vid), proxmonv1.CommandReason_COMMAND_REASON_PURSUIT, n.newID(), now))
		}
	}
	for _, tag := range sortedKeys(n.tagRaised) {
		msgs = append(msgs, n.reportInterval(tag, n.pursuitInterval(tag), proxmonv1.CommandReason_COMMAND_REASON_UNSPECIFIED, n.newID(), now))
	}
	return msgs
}

// Active returns the number of protected persons' devices with a warning
// in force (any level but all clear).
func (n *Notices) Active() int {
	k := 0
	for _, v := range n.victims {
		if len(v.conds) > 0 {
			k++
		}
	}
	return k
}

func (n *Notices) victim(id string) *victim {
	v := n.victims[id]
	if v == nil {
		v = &victim{conds: map[string]*condition{}}
		n.victims[id] = v
	}
	return v
}

// tidy forgets a device that has nothing open and is not in pursuit mode.
func (n *Notices) tidy(vid string) {
	if v := n.victims[vid]; v != nil && len(v.conds) == 0 && !v.pursuit {
		delete(n.victims, vid)
	}
}

func (n *Notices) set(v *victim, key string, c *condition) {
	n.remove(v, key) // an open delivered again replaces itself
	v.conds[key] = c
	if c.tag != "" {
		n.tagRaisers[c.tag]++
	}
}

func (n *Notices) remove(v *victim, key string) {
	old := v.conds[key]
	if old == nil {
		return
	}
	delete(v.conds, key)
	if old.tag != "" {
		if n.tagRaisers[old.tag]--; n.tagRaisers[old.tag] <= 0 {
			delete(n.tagRaisers, old.tag)
		}
	}
}

// ban returns the case's contact ban on the protected device, or nil.
func (n *Notices) ban(caseID, protected string) *proxmon.ContactBan {
	c, ok := n.cases.Case(caseID)
	if !ok {
		return nil
	}
	for i := range c.ContactBans {
		if c.ContactBans[i].Protected == protected {
			return &c.ContactBans[i]
		}
	}
	return nil
}

// warning returns the device's warning in force: the level of its most
// serious open condition, or all clear, under the event id that caused it.
func (n *Notices) warning(vid string, v *victim, eventID string, at time.Time, drill bool, now time.Time) Message {
	w := &proxmonv1.Warning{EventId: eventID, Level: proxmonv1.WarningLevel_WARNING_LEVEL_ALL_CLEAR,
		Time: timestamppb.New(at), Expires: timestamppb.New(now.Add(n.t.WarningTTL)), Drill: drill}
	if c := v.effective(); c != nil {
		w.Level, w.WithinM, w.Drill = c.level, c.withinM, c.drill
	}
	return Message{Device: vid, Warning: w}
}

// pursuit switches the protected person's device into pursuit mode while
// a contact condition is open, and back to its configured interval when
// none is.
func (n *Notices) pursuit(vid string, v *victim, eventID string, now time.Time) (Message, bool) {
	want := false
	for _, c := range v.conds {
		want = want || c.contact
	}
	if want == v.pursuit {
		return Message{}, false
	}
	v.pursuit = want
	id := derivedID(eventID, "pursuit:"+vid)
	if want {
		return n.reportInterval(vid, n.pursuitInterval(vid), proxmonv1.CommandReason_COMMAND_REASON_PURSUIT, id, now), true
	}
	return n.reportInterval(vid, n.configured(vid), proxmonv1.CommandReason_COMMAND_REASON_PURSUIT, id, now), true
}

// tagPursuit raises or restores the tag's report rate as the conditions
// that opt in to pursuit_tag open and close. The command carries no reason
// and a random id: an id derived from the contact event could be checked
// against a guess of the protected person's device id.
func (n *Notices) tagPursuit(tag string, now time.Time) (Message, bool) {
	want := n.tagRaisers[tag] > 0
	if want == n.tagRaised[tag] {
		return Message{}, false
	}
	if want {
		n.tagRaised[tag] = true
		return n.reportInterval(tag, n.pursuitInterval(tag), proxmonv1.CommandReason_COMMAND_REASON_UNSPECIFIED, n.newID(), now), true
	}
	delete(n.tagRaised, tag)
	return n.reportInterval(tag, n.configured(tag), proxmonv1.CommandReason_COMMAND_REASON_UNSPECIFIED, n.newID(), now), true
}

func (n *Notices) reportInterval(dev string, every time.Duration, reason proxmonv1.CommandReason, id string, now time.Time) Message {
	s := max(uint32(math.Ceil(every.Seconds())), 1)
	return Message{Device: dev, Command: &proxmonv1.Command{
		Id: id, Time: timestamppb.New(now), Expires: timestamppb.New(now.Add(n.t.PursuitTTL)), Reason: reason,
		Action: &proxmonv1.Command_SetReportInterval{SetReportInterval: &proxmonv1.SetReportInterval{IntervalS: s}},
	}}
}

// pursuitInterval returns the device's report interval in pursuit mode:
// the pursuit interval, or its configured one when that is shorter.
//
// A device configured at or below the pursuit interval is still sent the
// command, at its own interval: pursuit mode then has one shape for every
// device (a raise, renewals, a restore, each with its expiry), and a case
// change during the pursuit that lengthens its configured interval beyond
// the pursuit interval is capped at the next renewal.
// For a tag this reveals nothing its opt-in did not already: the same
// commands at the same moments, carrying only its own interval.
func (n *Notices) pursuitInterval(dev string) time.Duration {
	return min(n.t.PursuitInterval, n.configured(dev))
}

// configured returns the device's configured report interval.
func (n *Notices) configured(dev string) time.Duration {
	d, ok := n.cases.Device(dev)
	if !ok {
		d = proxmon.Device{ID: dev}
	}
	return d.ReportInterval()
}

// effective returns the condition whose warning is in force: real before
// drill, then danger, caution, unknown, then the narrowest band, then the
// latest; nil when nothing is open.
func (v *victim) effective() *condition {
	var best *condition
	for _, c := range v.conds {
		if best == nil || c.outranks(best) {
			best = c
		}
	}
	return best
}

func (c *condition) outranks(o *condition) bool {
	if c.drill != o.drill {
		return !c.drill
	}
	if r, ro := rank(c.level), rank(o.level); r != ro {
		return r > ro
	}
	if c.withinM != o.withinM {
		return c.withinM != 0 && (o.withinM == 0 || c.withinM < o.withinM)
	}
	if !c.time.Equal(o.time) {
		return c.time.After(o.time)
	}
	return c.openID > o.openID // any fixed order: the outcome must not depend on map order
}

func rank(l proxmonv1.WarningLevel) int {
	switch l {
	case proxmonv1.WarningLevel_WARNING_LEVEL_DANGER:
		return 3
	case proxmonv1.WarningLevel_WARNING_LEVEL_CAUTION:
		return 2
	case proxmonv1.WarningLevel_WARNING_LEVEL_UNKNOWN:
		return 1
	}
	return 0
}

// band returns a threshold as whole metres, rounded up: "within 500 m"
// must not understate a ban of 500.4 m.
func band(m float64) uint32 {
	if m <= 0 || math.IsNaN(m) {
		return 0
	}
	return uint32(min(math.Ceil(m), math.MaxUint32))
}

// derivedID returns a command id that a redelivery of the same event
// repeats, so the device executes it once.
func derivedID(eventID, what string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + what))
	return hex.EncodeToString(sum[:16])
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
