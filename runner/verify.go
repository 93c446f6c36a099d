package runner

import (
	"context"
	"fmt"

	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/runner/internal/step"
	"github.com/srvthreds/bootstrap/store"
)

// drift compares what p's steps write, applied over prev, with what MongoDB
// and Redis hold now (--verify), ignoring "modified" and "ts", and
// checking users' passwords against their secrets with bcrypt. It returns
// the differences and how many documents, keys and passwords differ. It
// writes nothing.
func (r *Runner) drift(ctx context.Context, p *profiles.Profile, prev *store.Marker) ([]StepDiff, int, error) {
	names, ws, err := r.writesOf(p, prev)
	if err != nil {
		return nil, 0, fmt.Errorf("verify %s: %w", p.Name, err)
	}
	var diffs []StepDiff
	n := 0
	for i, w := range ws {
		d, k, err := step.Drift(ctx, r.mongo, r.redis, names[i], w)
		if err != nil {
			return diffs, n, fmt.Errorf("verify %s/%s: %w", p.Name, names[i], err)
		}
		diffs, n = append(diffs, d...), n+k
		k, err = r.verifySecrets(ctx, p, p.Steps[i])
		if err != nil {
			return diffs, n, fmt.Errorf("verify %s/%s: %w", p.Name, names[i], err)
		}
		if k > 0 {
			diffs = append(diffs, StepDiff{Step: names[i], Collection: "passwords", Change: k,
				Note: "stored hashes that do not verify against their secrets"})
			n += k
		}
	}
	return diffs, n, nil
}

// verifySecrets runs the kind's own check of s, if it has one.
func (r *Runner) verifySecrets(ctx context.Context, p *profiles.Profile, s profiles.Step) (int, error) {
	kind, err := step.Lookup(s.Kind)
	if err != nil {
		return 0, err
	}
	v, ok := kind.(step.Verifier)
	if !ok {
		return 0, nil
	}
	env := step.NewEnv(step.Env{Mongo: r.mongo, DB: step.Database(p, s), Getenv: r.opts.Env.Getenv, ReadFile: r.opts.Env.ReadFile})
	return v.Verify(ctx, env, s)
}
