package proxmon

// MaxIDLen is the longest id allowed.
const MaxIDLen = 64

// ValidID reports whether s is a valid id of a device, case or zone: 1-64
// characters of [A-Za-z0-9_-]. Ids become MQTT topic levels and NATS subject
// tokens, so nothing else is safe in them.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
