// Package profiles loads, validates, orders and hashes bootstrap profiles
// from an fs.FS.
//
// Load reads the requested profiles and everything they require, validates
// all of them before returning (so that a bad profile means nothing is
// written), orders them by their requires DAG with the command-line order as
// tie-break, and computes each profile's content version (docs/profiles.md,
// "Version"). Errors name the file, line and column of the problem.
//
// A srvthreds-form profile's Handler.ts is evaluated at load time (see
// internal/handler): the calls of its run() become users, upsert and
// replace steps, and the databases its cleanup() drops become part of its
// legacy Reset. Convert writes the manifest form of such a profile.
package profiles
