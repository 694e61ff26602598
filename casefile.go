package proxmon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/proxmon/proxmon/geo"
)

// Fault is one thing wrong with a case file or case record: where, and what.
// Path names the place like "cases[3].zones[1].geometry"; it is empty for
// the document as a whole.
type Fault struct {
	Path, Message string
}

func (f Fault) String() string {
	if f.Path == "" {
		return f.Message
	}
	return f.Path + ": " + f.Message
}

// ValidationError lists every fault found in a case file or case record, in
// document order. It matches ErrInvalid.
type ValidationError struct {
	Faults []Fault
}

// Error returns the faults, one a line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, f := range e.Faults {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// ParseCaseFile decodes a case file (YAML, or JSON, which is YAML) and
// validates it. Unknown fields, values of the wrong type and every fault that
// Validate finds are reported together as a *ValidationError; the returned
// case file is ready for the engine.
func ParseCaseFile(data []byte) (*CaseFile, error) {
	var f CaseFile
	if err := parseChecked(data, &f, "a mapping of devices and cases", f.validate); err != nil {
		return nil, err
	}
	return &f, nil
}

// parseChecked decodes one YAML document into dst, a pointer to a struct
// (want describes it in a fault), reporting unknown fields and values of the
// wrong type by path, then has check find the faults of what decoded. A
// value that did not decode reads as its zero value; check's faults inside
// it are left out, as its fault has been reported already.
func parseChecked(data []byte, dst any, want string, check func(*validator)) error {
	var v validator
	doc, ok := v.yamlDocument(data)
	if !ok {
		return v.err()
	}
	if _, ok := doc.(map[string]any); !ok {
		v.add("", "want %s, not %s", want, describe(doc))
		return v.err()
	}
	var failed []string // paths whose values did not decode
	doc = v.conform("", doc, reflect.TypeOf(dst).Elem(), &failed)
	// conform let through only what decodes, so neither step should fail;
	// if one does, it is still a fault of the input, not a reason to panic.
	clean, err := json.Marshal(doc)
	if err != nil {
		v.add("", "%v", err)
		return v.err()
	}
	if err := json.Unmarshal(clean, dst); err != nil {
		v.add("", "%v", err)
		return v.err()
	}
	var checked validator
	check(&checked)
	for _, flt := range checked.faults {
		if !slices.ContainsFunc(failed, func(p string) bool { return within(flt.Path, p) }) {
			v.faults = append(v.faults, flt)
		}
	}
	return v.err()
}

// yamlDocument decodes data as one YAML document into generic JSON values.
func (v *validator) yamlDocument(data []byte) (any, bool) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		var te *yamlv2.TypeError
		var ue *json.UnsupportedValueError
		switch {
		case errors.As(err, &te):
			for _, m := range te.Errors {
				v.add("", "%s", m)
			}
		case errors.As(err, &ue):
			v.add("", "%s is not allowed: numbers must be finite", ue.Str)
		default:
			v.add("", "%v", err)
		}
		return nil, false
	}
	// YAMLToJSON reads the first document only; a second one would be lost
	// without a word.
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	for n := 0; ; n++ {
		var skip any
		err := dec.Decode(&skip)
		if err == io.EOF || n == 0 && err != nil {
			break
		}
		if n > 0 && (err != nil || skip != nil) {
			v.add("", "more than one YAML document (---): a case file is one document")
			return nil, false
		}
	}
	var doc any
	if err := json.Unmarshal(j, &doc); err != nil {
		v.add("", "%v", err)
		return nil, false
	}
	if doc == nil {
		v.add("", "empty case file")
		return nil, false
	}
	return doc, true
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
)

// conform checks a generic JSON value against the type it will be decoded
// into, using the json tags: unknown fields and values of the wrong type are
// faults. It returns the value with those removed (so that it decodes), and
// adds the path of every value removed to failed.
func (v *validator) conform(path string, x any, t reflect.Type, failed *[]string) any {
	if x == nil {
		return nil // null decodes into anything, as its zero value
	}
	mismatchHint := func(want, hint string) any {
		v.add(path, "want %s, not %s%s", want, describe(x), hint)
		*failed = append(*failed, path)
		return nil
	}
	mismatch := func(want string) any { return mismatchHint(want, "") }
	switch {
	case t == rawMessageType:
		return x
	case t == timeType:
		s, ok := x.(string)
		if !ok {
			return mismatch("an RFC 3339 time")
		}
		var tm time.Time
		if tm.UnmarshalText([]byte(s)) != nil {
			v.add(path, "%s is not an RFC 3339 time like 2026-01-01T00:00:00+01:00", describe(x))
			*failed = append(*failed, path)
			return nil
		}
		return x
	}
	switch t.Kind() {
	case reflect.Pointer:
		return v.conform(path, x, t.Elem(), failed)
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return mismatch("a mapping")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if _, known := jsonField(t, k); !known {
				v.add(path, "unknown field %q", k)
				delete(m, k)
			}
		}
		// In the order of the contract, which is that of the documents.
		for f := range t.Fields() {
			if name := jsonName(f); name != "" {
				if x, ok := m[name]; ok {
					m[name] = v.conform(join(path, name), x, f.Type, failed)
				}
			}
		}
		return m
	case reflect.Slice:
		a, ok := x.([]any)
		if !ok {
			return mismatch("a list")
		}
		for i := range a {
			a[i] = v.conform(path+"["+strconv.Itoa(i)+"]", a[i], t.Elem(), failed)
		}
		return a
	case reflect.String:
		switch x := x.(type) {
		case string:
		case bool:
			// YAML 1.1 reads yes, y, on, no, n, off unquoted as booleans.
			if x {
				return mismatchHint("a string", " (quote it: YAML reads yes, y and on as true)")
			}
			return mismatchHint("a string", " (quote it: YAML reads no, n and off as false)")
		case float64:
			return mismatchHint("a string", " (quote it)")
		default:
			return mismatch("a string")
		}
	case reflect.Float64:
		if _, ok := x.(float64); !ok {
			return mismatch("a number")
		}
	case reflect.Bool:
		if _, ok := x.(bool); !ok {
			return mismatch("true or false")
		}
	default:
		panic(fmt.Sprintf("proxmon: case file field of type %v", t))
	}
	return x
}

// jsonField returns the type of t's field named name by its json tag. Names
// match exactly (encoding/json would also accept any other case).
func jsonField(t reflect.Type, name string) (reflect.Type, bool) {
	for f := range t.Fields() {
		if jsonName(f) == name {
			return f.Type, true
		}
	}
	return nil, false
}

// jsonName returns the name of f in JSON, or "" if it has none.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

// describe renders a generic JSON value for a fault message.
func describe(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return strconv.Quote(x)
	case float64:
		return num(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "a list"
	default:
		return "a mapping"
	}
}

// Validate checks the case file and reports every fault as a
// *ValidationError. It also builds what the engine needs and the file
// does not spell out: each zone's shape and each schedule's time zone and
// windows. It must not run while the engine uses the case file.
func (f *CaseFile) Validate() error {
	var v validator
	f.validate(&v)
	return v.err()
}

func (f *CaseFile) validate(v *validator) {
	devices := v.devices("devices", f.Devices)
	ids := make(map[string]bool, len(f.Cases))
	for i := range f.Cases {
		c := &f.Cases[i]
		p := "cases[" + strconv.Itoa(i) + "]"
		if ids[c.ID] && c.ID != "" {
			v.add(p+".id", "duplicate id %q", c.ID)
		}
		ids[c.ID] = true
		c.validate(v, p, func(id string) (*Device, bool) {
			d, ok := devices[id]
			return d, ok
		})
	}
}

// ValidateCaseRecord checks a case record of the log (a case and the devices
// it brought) as Validate checks a case file: the faults name "case..." and
// "devices[i]...". A device the case refers to that is not among devices is
// looked up with known, which may be nil.
func ValidateCaseRecord(c *Case, devices []Device, known func(id string) (*Device, bool)) error {
	var v validator
	v.caseRecord(c, devices, known)
	return v.err()
}

func (v *validator) caseRecord(c *Case, devices []Device, known func(id string) (*Device, bool)) {
	brought := v.devices("devices", devices)
	c.validate(v, "case", func(id string) (*Device, bool) {
		if d, ok := brought[id]; ok {
			return d, true
		}
		if known != nil {
			return known(id)
		}
		return nil, false
	})
}

// validator collects faults.
type validator struct {
	faults []Fault
}

func (v *validator) add(path, format string, args ...any) {
	v.faults = append(v.faults, Fault{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.faults) == 0 {
		return nil
	}
	return &ValidationError{Faults: v.faults}
}

// devices checks a list of devices and returns them by id; of a duplicate
// id, the first counts.
func (v *validator) devices(path string, ds []Device) map[string]*Device {
	byID := make(map[string]*Device, len(ds))
	for i := range ds {
		d := &ds[i]
		p := path + "[" + strconv.Itoa(i) + "]"
		if v.id(p+".id", d.ID) {
			if _, dup := byID[d.ID]; dup {
				v.add(p+".id", "duplicate id %q", d.ID)
			} else {
				byID[d.ID] = d
			}
		}
		switch d.Kind {
		case DeviceTag, DeviceVictim:
		case "":
			v.add(p+".kind", "missing (want tag or victim)")
		default:
			v.add(p+".kind", "unknown kind %q (want tag or victim)", d.Kind)
		}
		v.distance(p+".report_interval_s", d.ReportIntervalS)
		v.distance(p+".default_accuracy_m", d.DefaultAccuracyM)
		if h := d.MQTTPasswordBcrypt; h != "" && !bcryptHash(h) {
			// Never echo it: it may be a plain password.
			v.add(p+".mqtt_password_bcrypt", "not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)")
		}
	}
	return byID
}

// bcryptHash reports whether h looks like a bcrypt hash: a plain password
// put in its place must not pass.
func bcryptHash(h string) bool {
	return len(h) == 60 && (strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) &&
		'0' <= h[4] && h[4] <= '3' && '0' <= h[5] && h[5] <= '9' && h[6] == '$'
}

// validate checks the case at path; device finds the devices it refers to.
func (c *Case) validate(v *validator, path string, device func(id string) (*Device, bool)) {
	v.id(path+".id", c.ID)
	switch c.Risk {
	case "", RiskLow, RiskMedium, RiskHigh:
	default:
		v.add(path+".risk", "unknown risk %q (want low, medium or high)", c.Risk)
	}
	v.ref(path+".offender", c.Offender, DeviceTag, device)
	c.validatePeriods(v, path)
	protected := make(map[string]bool, len(c.ContactBans))
	for i := range c.ContactBans {
		b := &c.ContactBans[i]
		p := path + ".contact_bans[" + strconv.Itoa(i) + "]"
		v.ref(p+".protected", b.Protected, DeviceVictim, device)
		if protected[b.Protected] && b.Protected != "" {
			v.add(p+".protected", "duplicate contact ban on %q", b.Protected)
		}
		protected[b.Protected] = true
		alertOK := v.positive(p+".alert_m", b.AlertM)
		if v.distance(p+".warn_m", b.WarnM) && alertOK && b.WarnM < b.AlertM {
			v.add(p+".warn_m", "%s is less than alert_m %s", num(b.WarnM), num(b.AlertM))
		}
		if b.HysteresisM != nil {
			v.distance(p+".hysteresis_m", *b.HysteresisM)
		}
	}
	zones := make(map[string]bool, len(c.Zones))
	for i := range c.Zones {
		z := &c.Zones[i]
		p := path + ".zones[" + strconv.Itoa(i) + "]"
		if zones[z.ID] && z.ID != "" {
			v.add(p+".id", "duplicate id %q", z.ID)
		}
		zones[z.ID] = true
		z.validate(v, p)
	}
}

// validatePeriods checks the case's validity and suspensions: each period
// ends after it starts, and suspensions do not overlap, so that the case's
// state at any instant names one suspension and the log of it (one
// case_suspended per suspension) is unambiguous.
func (c *Case) validatePeriods(v *validator, path string) {
	if c.ValidFrom != nil && c.ValidUntil != nil && !c.ValidUntil.After(*c.ValidFrom) {
		v.add(path+".valid_until", "%s is not after valid_from %s", c.ValidUntil.Format(time.RFC3339), c.ValidFrom.Format(time.RFC3339))
	}
	for i := range c.Suspensions {
		s := &c.Suspensions[i]
		p := path + ".suspensions[" + strconv.Itoa(i) + "]"
		switch {
		case s.From.IsZero():
			v.add(p+".from", "missing")
		case !s.ordered():
			v.add(p+".until", "%s is not after from %s", s.Until.Format(time.RFC3339), s.From.Format(time.RFC3339))
		default:
			for j := range i {
				if o := &c.Suspensions[j]; o.ordered() && s.overlaps(o) {
					v.add(p, "overlaps suspensions[%d] (a case is suspended for one reason at a time)", j)
					break
				}
			}
		}
		if strings.TrimSpace(s.Reason) == "" {
			v.add(p+".reason", "missing (say why, like custody or hospital)")
		}
	}
}

// ordered reports whether the suspension has a start and ends after it.
func (s *Suspension) ordered() bool {
	return !s.From.IsZero() && (s.Until == nil || s.Until.After(s.From))
}

// overlaps reports whether two suspensions share an instant; a missing
// until is open-ended.
func (s *Suspension) overlaps(o *Suspension) bool {
	return (o.Until == nil || s.From.Before(*o.Until)) && (s.Until == nil || o.From.Before(*s.Until))
}

// ref checks a reference at path to a device of kind want.
func (v *validator) ref(path, id string, want DeviceKind, device func(id string) (*Device, bool)) {
	if id == "" {
		v.add(path, "missing")
		return
	}
	d, ok := device(id)
	switch {
	case !ok:
		v.add(path, "unknown device %q", id)
	case d.Kind != want && kindNames[d.Kind] != "":
		// A device of an unknown kind has its own fault.
		v.add(path, "device %q is %s, not %s", id, kindNames[d.Kind], kindNames[want])
	}
}

var kindNames = map[DeviceKind]string{DeviceTag: "a tag", DeviceVictim: "a victim device"}

func (z *Zone) validate(v *validator, path string) {
	z.shape = nil
	v.id(path+".id", z.ID)
	switch z.Kind {
	case ZoneExclusion, ZoneInclusion:
	case "":
		v.add(path+".kind", "missing (want exclusion or inclusion)")
	default:
		v.add(path+".kind", "unknown kind %q (want exclusion or inclusion)", z.Kind)
	}
	switch {
	case z.Circle != nil && z.Geometry != nil:
		v.add(path, "has both circle and geometry (want exactly one)")
	case z.Circle != nil:
		z.shape = z.Circle.build(v, path+".circle")
	case z.Geometry != nil:
		z.shape = z.Geometry.build(v, path+".geometry")
	default:
		v.add(path, "has neither circle nor geometry (want exactly one)")
	}
	v.distance(path+".buffer_m", z.BufferM)
	if z.HysteresisM != nil {
		v.distance(path+".hysteresis_m", *z.HysteresisM)
	}
	if z.Schedule != nil {
		z.Schedule.validate(v, path+".schedule")
	}
}

func (c *Circle) build(v *validator, path string) *geo.Shape {
	if len(c.Center) != 2 {
		v.add(path+".center", "want [lon, lat], not %d numbers", len(c.Center))
		v.positive(path+".radius_m", c.RadiusM)
		return nil
	}
	p := geo.Point{Lon: c.Center[0], Lat: c.Center[1]}
	centerOK := v.point(path+".center", p)
	if !v.positive(path+".radius_m", c.RadiusM) || !centerOK {
		return nil
	}
	s, err := geo.NewCircle(p, c.RadiusM)
	if err != nil {
		v.add(path, "%v", err)
		return nil
	}
	return s
}

func (g *Geometry) build(v *validator, path string) *geo.Shape {
	known, multi := true, false
	switch g.Type {
	case "Polygon":
	case "MultiPolygon":
		multi = true
	case "":
		known = false
		v.add(path+".type", "missing (want Polygon or MultiPolygon)")
	default:
		known = false
		v.add(path+".type", "unknown type %q (want Polygon or MultiPolygon)", g.Type)
	}
	var coords any
	if len(g.Coordinates) > 0 {
		if err := json.Unmarshal(g.Coordinates, &coords); err != nil {
			v.add(path+".coordinates", "%v", err)
			return nil
		}
	}
	if coords == nil {
		v.add(path+".coordinates", "missing")
		return nil
	}
	if !known {
		return nil
	}
	n := len(v.faults)
	var polys [][][]geo.Point
	if !multi {
		if rings := v.rings(path+".coordinates", coords); rings != nil {
			polys = [][][]geo.Point{rings}
		}
	} else if a, ok := v.list(path+".coordinates", coords, "polygons"); ok {
		for i, x := range a {
			polys = append(polys, v.rings(path+".coordinates["+strconv.Itoa(i)+"]", x))
		}
	}
	if len(v.faults) > n {
		return nil
	}
	s, err := geo.NewPolygons(polys)
	if err != nil {
		var re *geo.RingError
		switch {
		case errors.As(err, &re) && !multi:
			v.add(path, "ring %d %s", re.Ring, re.Fault)
		case errors.As(err, &re):
			v.add(path, "polygon %d ring %d %s", re.Polygon, re.Ring, re.Fault)
		default:
			v.add(path, "%v", err)
		}
		return nil
	}
	return s
}

// rings decodes the rings of one polygon from generic JSON.
func (v *validator) rings(path string, x any) [][]geo.Point {
	a, ok := v.list(path, x, "rings")
	if !ok {
		return nil
	}
	rings := make([][]geo.Point, len(a))
	for i, r := range a {
		rp := path + "[" + strconv.Itoa(i) + "]"
		ps, ok := v.list(rp, r, "")
		if !ok {
			continue
		}
		ring := make([]geo.Point, 0, len(ps))
		for j, pos := range ps {
			pp := rp + "[" + strconv.Itoa(j) + "]"
			if p, ok := v.position(pp, pos); ok && v.point(pp, p) {
				ring = append(ring, p)
			}
		}
		rings[i] = ring
	}
	return rings
}

// list checks that x is a list; of things, when given, it must not be empty.
func (v *validator) list(path string, x any, of string) ([]any, bool) {
	a, ok := x.([]any)
	switch {
	case !ok:
		v.add(path, "want a list, not %s", describe(x))
	case len(a) == 0 && of != "":
		v.add(path, "no %s", of)
		ok = false
	}
	return a, ok
}

// position decodes a GeoJSON position: [lon, lat], or [lon, lat, altitude]
// (RFC 7946 3.1.1; the altitude is ignored).
func (v *validator) position(path string, x any) (geo.Point, bool) {
	a, ok := x.([]any)
	if ok && (len(a) == 2 || len(a) == 3) {
		lon, ok1 := a[0].(float64)
		lat, ok2 := a[1].(float64)
		if ok1 && ok2 {
			return geo.Point{Lon: lon, Lat: lat}, true
		}
	}
	v.add(path, "want a position [lon, lat], not %s", describe(x))
	return geo.Point{}, false
}

// point checks that p is a position on Earth.
func (v *validator) point(path string, p geo.Point) bool {
	ok := true
	if !(p.Lon >= -180 && p.Lon <= 180) {
		v.add(path, "longitude %s out of range [-180, 180]", num(p.Lon))
		ok = false
	}
	if !(p.Lat >= -90 && p.Lat <= 90) {
		v.add(path, "latitude %s out of range [-90, 90]", num(p.Lat))
		ok = false
	}
	return ok
}

func (s *Schedule) validate(v *validator, path string) {
	s.loc, s.wins = nil, nil
	n := len(v.faults)
	if s.From != nil && s.Until != nil && !s.Until.After(*s.From) {
		v.add(path+".until", "%s is not after from %s", s.Until.Format(time.RFC3339), s.From.Format(time.RFC3339))
	}
	var loc *time.Location
	switch s.TZ {
	case "":
		if len(s.Windows) > 0 {
			v.add(path+".tz", "missing (windows need a time zone, like Europe/Amsterdam)")
		}
	case "Local":
		// The machine's zone: the same file would mean different times on
		// different hosts.
		v.add(path+".tz", `"Local" is not a time zone name (want one like Europe/Amsterdam)`)
	default:
		var err error
		if loc, err = loadLocation(s.TZ); err != nil {
			v.add(path+".tz", "unknown time zone %q", s.TZ)
		}
	}
	wins := make([]window, 0, len(s.Windows))
	for i := range s.Windows {
		w := &s.Windows[i]
		p := path + ".windows[" + strconv.Itoa(i) + "]"
		var win window
		if len(w.Days) == 0 {
			v.add(p+".days", "missing")
		}
		for j, d := range w.Days {
			wd, ok := weekdays[d]
			switch {
			case !ok:
				v.add(p+".days["+strconv.Itoa(j)+"]", "unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d)
			case win.days&(1<<wd) != 0:
				v.add(p+".days["+strconv.Itoa(j)+"]", "duplicate day %q", d)
			}
			win.days |= 1 << wd
		}
		start, okStart := clock(w.Start)
		if !okStart {
			v.add(p+".start", "%q is not a time of day HH:MM (00:00 to 23:59)", w.Start)
		}
		end, okEnd := clock(w.End)
		if !okEnd {
			v.add(p+".end", "%q is not a time of day HH:MM (00:00 to 23:59)", w.End)
		}
		if okStart && okEnd && start == end {
			v.add(p+".end", "equals start %s (a window must not be empty)", w.Start)
		}
		win.start, win.end = start, end
		wins = append(wins, win)
	}
	if len(v.faults) == n {
		s.loc, s.wins = loc, wins
	}
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// clock parses "HH:MM" into seconds since midnight.
func clock(s string) (int32, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int32(s[0]-'0')*10 + int32(s[1]-'0')
	m := int32(s[3]-'0')*10 + int32(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return (h*60 + m) * 60, true
}

// id checks an id.
func (v *validator) id(path, id string) bool {
	switch {
	case id == "":
		v.add(path, "missing")
	case !ValidID(id):
		v.add(path, "%q is not a valid id (1-64 characters of A-Z, a-z, 0-9, _ and -)", id)
	default:
		return true
	}
	return false
}

// distance checks a length or duration that may be 0.
func (v *validator) distance(path string, x float64) bool {
	switch {
	case math.IsNaN(x):
		v.add(path, "NaN is not a number")
	case math.IsInf(x, 0):
		v.add(path, "%s is not finite", num(x))
	case x < 0:
		v.add(path, "%s is negative", num(x))
	default:
		return true
	}
	return false
}

// positive checks a length that must be more than 0; it is required.
func (v *validator) positive(path string, x float64) bool {
	if x == 0 {
		v.add(path, "must be more than 0")
		return false
	}
	return v.distance(path, x)
}

// num renders a number for a fault message, as written in the case file.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// join appends a field name to a path.
func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// within reports whether path lies at or under prefix.
func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix) &&
		(path[len(prefix)] == '.' || path[len(prefix)] == '[')
}

// locations shares each time zone between the schedules that name it:
// time.LoadLocation returns a new copy of the zone's rules every time, some
// kilobytes that thousands of schedules would otherwise each keep.
var locations sync.Map // name -> *time.Location

func loadLocation(name string) (*time.Location, error) {
	if loc, ok := locations.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	actual, _ := locations.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}
