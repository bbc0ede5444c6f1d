package httpx

// MaxDepth is how deeply a JSON value the hub keeps may nest: a message
// is stored inside its log record and read back at every start, and
// encoding/json stops at 10,000 levels, so the hub must never take what it
// could not read again. Clients' parsers stop far sooner (Rust's
// serde_json takes 127 levels of a whole document, and a message sits
// inside its event's data object), and no notification needs more: 100.
const MaxDepth = 100

// NestedDeeper reports whether the valid JSON value b nests arrays and
// objects more than max levels deep (a scalar is level 0, [] is 1).
func NestedDeeper(b []byte, max int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			if depth++; depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}
