package auth

// ValidID reports whether s is a user, group or client id: 1-128 characters
// of letters, digits, '.', '_', '-' and '@', other than "." and "..", which
// a URL path cannot carry as a segment (clients and routers resolve them).
// Token subjects follow the same rule.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > maxSubject || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDByte(s[i]) {
			return false
		}
	}
	return true
}

// IDRule states the id rule for error messages.
const IDRule = "use 1-128 letters, digits, '.', '_', '-', '@' (not \".\" or \"..\")"

func isIDByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '.' || b == '_' || b == '@' || b == '-'
}
