//go:build !unix

package bench

// raiseFileLimit has no limit to raise here.
func raiseFileLimit() {}
