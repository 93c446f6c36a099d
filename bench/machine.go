package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo describes where and when the figures were measured.
type machineInfo struct {
	Date, Commit, Dirty          string
	CPU, Memory, Kernel          string
	NProc                        int
	Go, Docker                   string
	RunnerImage, RedisImage      string
	MongoImage                   string
	LoadStart, LoadEnd, Duration string
	LoadNote                     string
}

// readMachine gathers machineInfo for the repository at repo.
func readMachine(ctx context.Context, repo string, d *dockerCLI) machineInfo {
	m := machineInfo{
		Date:      time.Now().UTC().Format("2006-01-02 15:04 MST"),
		NProc:     runtime.NumCPU(),
		Go:        runtime.Version(),
		LoadStart: loadAvg(),
	}
	if out, err := exec.CommandContext(ctx, "nproc").Output(); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil {
			m.NProc = n
		}
	}
	m.Commit = gitOut(ctx, repo, "rev-parse", "HEAD")
	if st := gitOut(ctx, repo, "status", "--porcelain", "--untracked-files=no"); st != "" && st != "?" {
		m.Dirty = " with uncommitted changes in the work tree"
	}
	m.CPU = cpuModel()
	m.Memory = memTotal()
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(k))
	}
	if v, err := d.cmd(ctx, "version", "-f", "{{.Server.Version}}"); err == nil {
		m.Docker = v
	}
	return m
}

// gitOut returns git's trimmed output in repo, or "?" when git fails.
func gitOut(ctx context.Context, repo string, args ...string) string {
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// memTotal returns MemTotal of /proc/meminfo in GiB.
func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return "?"
			}
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// loadAvg returns the three load averages of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

// load1 returns the one-minute load average, or 0.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
