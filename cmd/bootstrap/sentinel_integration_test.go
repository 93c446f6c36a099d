package main

import (
	"testing"
	"time"

	"github.com/srvthreds/bootstrap/internal/harness"
)

// TestSentinel runs the product behind Sentinel (one master, one replica,
// three Sentinels), shared by the subtests, which run in order.
func TestSentinel(t *testing.T) {
	t.Parallel()
	start := time.Now()
	n := harness.NewNetwork(t)
	env := &harness.Env{Net: n, Mongo: harness.StartMongo(t, n)}
	s := harness.StartRedisSentinel(t, n)
	tp := &topo{
		env: env, mc: env.Mongo.Client(t), rdb: s.Client(t),
		redisArgs: []string{"--redis-url", s.URL(), "--redis-sentinel-master", harness.SentinelMaster},
		dir:       topoProfiles(t, 20),
	}
	t.Logf("sentinel deployment and mongo up in %s", time.Since(start).Round(time.Millisecond))
	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"five_runners_apply_each_profile_once", func(t *testing.T) {
			fiveRunnersApplyOnce(t, tp, exampleDB, "example-base", "example-users", "example-patterns")
			if m, h := cachedPatterns(t, tp.rdb); m != 0 || h != 0 {
				t.Errorf("unexpected t.p patterns: %d, %d", m, h)
			}
		}},
		{"patterns_and_rerun", func(t *testing.T) {
			tp.mustExec(t, exitOK, "patterns", "run", "-p", "many-patterns")
			if m, h := cachedPatterns(t, tp.rdb); m != 20 || h != 20 {
				t.Errorf("IDX:Pattern lists %d t.p patterns, %d hashes; want 20", m, h)
			}
			logs := tp.mustExec(t, exitOK, "again", "run", "-p", "many-patterns,example-base")
			if got := runSummary(t, logs).num("applied"); got != 0 {
				t.Errorf("second run applied %d, want 0", got)
			}
		}},
		{"lock_lost_by_failover", func(t *testing.T) {
			lockLostByFailover(t, tp, func(phase string) {
				if phase == "freeze" {
					s.Replica.Pause(t)
					s.Master.DropReplicas(t)
					return
				}
				s.Master.Kill(t)
				s.Replica.Unpause(t)
				s.WaitFailover(t)
			})
		}},
	}
	for _, st := range steps {
		began := time.Now()
		ok := t.Run(st.name, st.fn)
		t.Logf("%s: %s", st.name, time.Since(began).Round(time.Millisecond))
		if !ok {
			return
		}
	}
}
