package runner

import (
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
)

// Preflight reads every secret that applying set will read, through env
// (give it env.Cached() and pass the same Env in Options.Env, so that the
// run uses the values checked here and reads nothing again): users'
// passwordFrom (env or file), http steps' headersFrom, and
// BCRYPT_SALT_ROUNDS when a users step has users. Every profile of set is
// checked, whether or not its marker will make the run skip it: which
// profiles are current is known only under the lock, and a deployment
// whose secret is missing is broken for its next version anyway. It needs
// no server and writes nothing. A missing, empty or unusable secret is a
// *profiles.ValidationError (errors.Is ErrInvalid) listing each one where
// the profile names it, with the step, the user or header and the variable
// or file; no message holds a secret's value.
func Preflight(set *profiles.Set, env Env) error {
	e := step.NewEnv(step.Env{Getenv: env.Getenv, ReadFile: env.ReadFile})
	return profiles.NewValidationError(step.Preflight(e, set), 0)
}
