//go:build rtchub_nobench

package bench

import (
	"context"
	"errors"
)

// Built says whether this binary has the load generator: this one was
// built without it (-tags rtchub_nobench), as the release binaries are.
const Built = false

// Run says the load generator is not in this binary.
func Run(context.Context, Config) (Result, error) {
	return Result{}, errors.New("bench: this binary was built without the load generator (-tags rtchub_nobench); use one from make build")
}
