package proxmon

// ParseCaseRecord decodes one case record as the HTTP API receives it,
// {"case": {...one case, as in the case file...}, "devices": [...its
// devices...]}, and checks it exactly as ParseCaseFile checks a case file:
// unknown fields, values of the wrong type and every fault that
// ValidateCaseRecord finds, reported together as a *ValidationError with
// paths like "case.zones[0].geometry" and "devices[1].kind". Every device the
// case refers to must be among devices. The case returned is ready for the
// engine.
func ParseCaseRecord(data []byte) (*Case, []Device, error) {
	var r struct {
		Case    *Case    `json:"case"`
		Devices []Device `json:"devices"`
	}
	err := parseChecked(data, &r, "a mapping of case and devices", func(v *validator) {
		if r.Case == nil {
			v.add("case", "missing")
			return
		}
		v.caseRecord(r.Case, r.Devices, nil)
	})
	if err != nil {
		return nil, nil, err
	}
	return r.Case, r.Devices, nil
}
