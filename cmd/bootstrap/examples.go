package main

import "strings"

// examples renders command lines as the Examples section of a command's
// detailed help (kong.HelpProvider): "# comment" lines explain the line
// that follows.
func examples(lines ...string) string {
	var b strings.Builder
	b.WriteString("Examples:\n\n")
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// Help is the detailed help of the whole command line.
func (*cli) Help() string {
	return examples(
		"# apply two profiles to the local MongoDB and Redis",
		"bootstrap run --profiles-dir examples/profiles -p example-base,example-patterns",
		"# against your own servers",
		"MONGO_HOST=db.local:27017 REDIS_HOST=cache.local bootstrap plan -p example-base",
		"bootstrap help run",
	)
}

// Help is the detailed help of run.
func (*runCmd) Help() string {
	return examples(
		"bootstrap run -p example-base,example-patterns",
		"# the same: run is the default command",
		"bootstrap -p example-base -p example-patterns",
		"# re-apply although the markers say current, without the health server",
		"bootstrap run -p example-base --force --health-addr off",
		"# show what a run would do",
		"bootstrap run -p example-base --dry-run",
	)
}

// Help is the detailed help of plan.
func (*planCmd) Help() string {
	return examples(
		"bootstrap plan -p example-base",
		"# without reading the stores",
		"bootstrap plan -p example-base --offline",
		"# in CI: exit 10 when a run would change something",
		"bootstrap plan -p example-base --detailed-exitcode -o json",
	)
}

// Help is the detailed help of validate.
func (*validateCmd) Help() string {
	return examples(
		"# every profile of the directory",
		"bootstrap validate --profiles-dir examples/profiles",
		"bootstrap validate -p example-users -o json",
	)
}

// Help is the detailed help of status.
func (*statusCmd) Help() string {
	return examples(
		"# what is applied, compared with the profiles of this image",
		"bootstrap status --profiles-dir examples/profiles",
		"# from the records alone (no profiles directory needed)",
		"bootstrap status --database nr -p example-base -o json",
	)
}

// Help is the detailed help of history.
func (*historyCmd) Help() string {
	return examples(
		"bootstrap history --limit 10",
		"bootstrap history -p example-base -o json",
	)
}

// Help is the detailed help of wait.
func (*waitCmd) Help() string {
	return examples(
		"# an initContainer: block until this image's profiles are applied",
		"bootstrap wait -p example-base,example-patterns --timeout 10m",
	)
}

// Help is the detailed help of unlock.
func (*unlockCmd) Help() string {
	return examples(
		"# break a lock whose holder stopped renewing it",
		"bootstrap unlock",
		"# break it even while its holder renews it",
		"bootstrap unlock --force",
	)
}

// Help is the detailed help of rollback.
func (*rollbackCmd) Help() string {
	return examples(
		"# back to the version before the current one",
		"bootstrap rollback -p example-base",
		"bootstrap rollback -p example-base --to 3f2a9c",
	)
}

// Help is the detailed help of reset.
func (*resetCmd) Help() string {
	return examples("bootstrap reset -p example-patterns")
}

// Help is the detailed help of convert.
func (*convertCmd) Help() string {
	return examples("bootstrap convert --profiles-dir run-profiles -p default --out default-manifest")
}

// Help is the detailed help of completion.
func (*completionCmd) Help() string {
	return examples(
		"source <(bootstrap completion bash)",
		"bootstrap completion fish > ~/.config/fish/completions/bootstrap.fish",
	)
}
