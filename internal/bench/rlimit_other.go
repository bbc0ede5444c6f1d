//go:build !unix && !rtchub_nobench

package bench

// raiseFileLimit has no limit to raise here.
func raiseFileLimit() {}
