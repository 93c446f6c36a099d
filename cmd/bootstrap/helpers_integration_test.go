package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/srvthreds/bootstrap/internal/harness"
	"github.com/srvthreds/bootstrap/lock"
	"github.com/srvthreds/bootstrap/store"
)

// Names shared by the integration tests of the command.
const (
	// testDB is the database of the generated test profiles.
	testDB = "bt"
	// itemsCollection is where a generated documents profile writes.
	itemsCollection = "Items"
	// exampleDB is the database of the example profiles in the image.
	exampleDB = "nr"
	// adminPassword is the demo admin's password in the tests; it must never
	// reach a log line.
	adminPassword = "Adm1n-pa55-never-logged"
)

// exampleEnv is the environment the example profiles need (example-users reads
// DEMO_ADMIN_PASSWORD), with a cheap bcrypt cost.
func exampleEnv() map[string]string {
	return map[string]string{"DEMO_ADMIN_PASSWORD": adminPassword, "BCRYPT_SALT_ROUNDS": "4"}
}

// dbArgs returns the arguments of command cmd against env's databases,
// followed by extra. The connect timeout is short so that a broken test
// fails fast.
func dbArgs(env *harness.Env, cmd string, extra ...string) []string {
	args := []string{cmd, "--mongo-uri", env.Mongo.NetURI, "--connect-timeout", "30s", "--redis-url", "redis://" + env.Redis.NetAddr}
	return append(args, extra...)
}

// logLine is one JSON log line of the runner.
type logLine map[string]any

// str returns the string attribute k, or "".
func (l logLine) str(k string) string {
	s, _ := l[k].(string)
	return s
}

// num returns the numeric attribute k, or -1 when it is missing.
func (l logLine) num(k string) int64 {
	f, ok := l[k].(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

// at returns the time of the line (the runner's clock, which is the
// host's: containers share the kernel's clock).
func (l logLine) at(t testing.TB) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, l.str("time"))
	if err != nil {
		t.Fatalf("log line without a time: %v: %v", l, err)
	}
	return ts
}

// parseLogs returns the JSON lines of logs; other lines (a report printed
// by a command, a Docker log header) are left out.
func parseLogs(t testing.TB, logs string) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(s, '{'); i > 0 {
			s = s[i:] // a multiplexed stream header may precede the line
		}
		if !strings.HasPrefix(s, "{") {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			continue
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return out
}

// duplicateKeys returns the keys that occur more than once at the top
// level of a JSON log line (a log pipeline may drop such a line, or keep
// either value).
func duplicateKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %q", line)
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		if seen[k] {
			dups = append(dups, k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	return dups, nil
}

// withMsg returns the lines whose msg is msg.
func withMsg(lines []logLine, msg string) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.str("msg") == msg {
			out = append(out, l)
		}
	}
	return out
}

// firstMsg returns the first line whose msg is msg, failing t when there
// is none.
func firstMsg(t testing.TB, lines []logLine, msg, logs string) logLine {
	t.Helper()
	got := withMsg(lines, msg)
	if len(got) == 0 {
		t.Fatalf("no log line %q; logs:\n%s", msg, logs)
	}
	return got[0]
}

// runSummary returns the run_summary line, failing t when there is none.
func runSummary(t testing.TB, logs string) logLine {
	t.Helper()
	for _, l := range parseLogs(t, logs) {
		if l.str("event") == "run_summary" {
			return l
		}
	}
	t.Fatalf("no run_summary line; logs:\n%s", logs)
	return nil
}

// outcomes returns the profile -> outcome of the profile_outcome lines.
func outcomes(t testing.TB, logs string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range parseLogs(t, logs) {
		if l.str("event") == "profile_outcome" {
			out[l.str("profile")] = l.str("outcome")
		}
	}
	return out
}

// waitForLog polls the runner's logs until a line satisfies match, and
// returns that line; it fails t after timeout.
func waitForLog(t testing.TB, rc *harness.RunnerContainer, timeout time.Duration, what string, match func(logLine) bool) logLine {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		logs := rc.Logs(t)
		for _, l := range parseLogs(t, logs) {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner %s: no log line %s within %s; logs:\n%s", rc.Name, what, timeout, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// msgIs matches a log line by its msg.
func msgIs(msg string) func(logLine) bool {
	return func(l logLine) bool { return l.str("msg") == msg }
}

// writeFiles writes files (path relative to dir -> content) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeDocumentsProfile writes the profile name under dir: one documents
// step that replace-upserts n documents into testDB.Items, keyed on _id
// (FerretDB's SQLite backend pushes an _id filter down to SQL; any other key
// scans the collection for every statement).
// With a small --batch-size it is an honestly slow profile whose progress
// the test can follow by counting documents.
func writeDocumentsProfile(t testing.TB, dir, name string, n int) {
	t.Helper()
	writeTaggedDocumentsProfile(t, dir, name, n, name)
}

// writeTaggedDocumentsProfile is writeDocumentsProfile whose documents'
// labels end with tag: two runners given different tags write different
// content under the same ids.
func writeTaggedDocumentsProfile(t testing.TB, dir, name string, n int, tag string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[\n")
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `  {"_id": "item-%06d", "n": %d, "label": "generated item %d of %s"}`, i, i, i, tag)
	}
	b.WriteString("\n]\n")
	writeFiles(t, dir, map[string]string{
		name + "/profile.yaml": fmt.Sprintf("database: %s\nsteps:\n  - documents: {collection: %s, dir: data}\n",
			testDB, itemsCollection),
		name + "/data/items.json": b.String(),
	})
}

// countDocs returns the number of documents in db.coll.
func countDocs(t testing.TB, mc *mongo.Client, db, coll string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n, err := mc.Database(db).Collection(coll).CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatalf("count %s.%s: %v", db, coll, err)
	}
	return n
}

// auditRecords returns the audit records of profile in db, oldest first.
func auditRecords(t testing.TB, mc *mongo.Client, db, profile string) []store.AuditRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cur, err := mc.Database(db).Collection(store.AuditCollection).Find(ctx,
		bson.D{{Key: "profile", Value: profile}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatalf("read audit %s.%s: %v", db, profile, err)
	}
	var out []store.AuditRecord
	if err := cur.All(ctx, &out); err != nil {
		t.Fatalf("read audit %s.%s: %v", db, profile, err)
	}
	return out
}

// withOutcome returns the records with outcome o.
func withOutcome(recs []store.AuditRecord, o store.Outcome) []store.AuditRecord {
	return slices.DeleteFunc(slices.Clone(recs), func(r store.AuditRecord) bool { return r.Outcome != o })
}

// lockHolder returns the holder of the default lock, or nil when it is free.
func lockHolder(t testing.TB, rdb *redis.Client) *lock.Holder {
	t.Helper()
	l, err := lock.New(rdb, "bootstrap", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	h, err := l.Holder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// userDatabases returns the databases of the server, without the server's
// own (admin, config, local).
func userDatabases(t testing.TB, mc *mongo.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	names, err := mc.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == "admin" || n == "config" || n == "local" })
}

// containerState returns the Docker state of the runner's container.
func containerState(t testing.TB, rc *harness.RunnerContainer) *container.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dc, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker: %v", err)
	}
	defer dc.Close()
	res, err := dc.ContainerInspect(ctx, rc.Name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", rc.Name, err)
	}
	if res.Container.State == nil {
		t.Fatalf("inspect %s: no state", rc.Name)
	}
	return res.Container.State
}

// running reports whether the runner's container is running (neither
// exited nor paused).
func running(t testing.TB, rc *harness.RunnerContainer) bool {
	t.Helper()
	s := containerState(t, rc)
	return s.Running && !s.Paused
}

// finishedAt returns when the runner's process exited, by Docker's clock
// (the host's, like the runner's log times).
func finishedAt(t testing.TB, rc *harness.RunnerContainer) time.Time {
	t.Helper()
	s := containerState(t, rc)
	at, err := time.Parse(time.RFC3339Nano, s.FinishedAt)
	if err != nil || s.Running {
		t.Fatalf("runner %s has not finished (state %s, finished %q)", rc.Name, s.Status, s.FinishedAt)
	}
	return at
}

// The slow profile of the fault tests: slowDocs documents written
// slowBatch at a time take seconds to tens of seconds on FerretDB (about
// 3ms a document on a loaded two-core machine), so a runner that has
// written midProfile of them is reliably still writing when the test acts.
const (
	slowDocs   = 4000
	slowBatch  = "5"
	midProfile = 20
)

// waitMidProfile waits until the runner rc, applying the slow profile, has
// written at least midProfile documents of testDB.Items and fewer than n.
func waitMidProfile(t testing.TB, mc *mongo.Client, rc *harness.RunnerContainer, n int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c := countDocs(t, mc, testDB, itemsCollection)
		switch {
		case c >= n:
			t.Fatalf("runner %s finished the slow profile (%d documents) before the test acted; make it slower", rc.Name, c)
		case c >= midProfile:
			return
		case time.Now().After(deadline):
			t.Fatalf("runner %s wrote %d documents in 2m; logs:\n%s", rc.Name, c, rc.Logs(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holderAndWaiter waits until one of a and b has acquired the lock and the
// other is waiting for it, and returns them in that order, with the
// holder's "lock acquired" line.
func holderAndWaiter(t testing.TB, a, b *harness.RunnerContainer) (holder, waiter *harness.RunnerContainer, acquired logLine) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		la, lb := parseLogs(t, a.Logs(t)), parseLogs(t, b.Logs(t))
		switch {
		case len(withMsg(la, "lock acquired")) > 0 && len(withMsg(lb, "waiting for lock")) > 0:
			return a, b, withMsg(la, "lock acquired")[0]
		case len(withMsg(lb, "lock acquired")) > 0 && len(withMsg(la, "waiting for lock")) > 0:
			return b, a, withMsg(lb, "lock acquired")[0]
		case time.Now().After(deadline):
			t.Fatalf("no holder and waiter among %s and %s within 2m; logs:\n%s\n%s", a.Name, b.Name, a.Logs(t), b.Logs(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// paused reports whether the runner's container is paused.
func paused(t testing.TB, rc *harness.RunnerContainer) bool {
	t.Helper()
	return containerState(t, rc).Paused
}
