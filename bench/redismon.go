package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// redisMonitor is a MONITOR connection to Redis. It tells the commands a
// client sent from those a Lua script ran ("[0 lua]"), which INFO
// commandstats counts alike. It is read on a plain connection rather than
// with go-redis, whose MonitorCmd polls its connection in a busy loop that
// would take a core from the process being measured.
type redisMonitor struct {
	conn net.Conn
	mu   sync.Mutex
	seen []string // raw lines, "<ts> [<db> <source>] "cmd" ..."
	done chan struct{}
}

// startMonitor opens a MONITOR connection to addr.
func startMonitor(ctx context.Context, addr string) (*redisMonitor, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	r := bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "+OK" {
		conn.Close()
		return nil, fmt.Errorf("monitor: reply %q: %v", line, err)
	}
	conn.SetDeadline(time.Time{})
	m := &redisMonitor{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			m.mu.Lock()
			m.seen = append(m.seen, strings.TrimSpace(strings.TrimPrefix(line, "+")))
			m.mu.Unlock()
		}
	}()
	return m, nil
}

// stop waits until the monitor has seen sentinel (a command the caller
// sent after the commands it wants, so that they have all arrived), closes
// the connection and returns the lines seen before the sentinel.
func (m *redisMonitor) stop(ctx context.Context, sentinel string) ([]string, error) {
	defer func() {
		m.conn.Close()
		<-m.done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		m.mu.Lock()
		for i, l := range m.seen {
			if strings.Contains(l, sentinel) {
				lines := m.seen[:i]
				m.mu.Unlock()
				return lines, nil
			}
		}
		m.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	return nil, errors.New("monitor: the sentinel command never showed")
}

// scriptCalls counts, by command name, the lines of MONITOR output that a
// Lua script ran.
func scriptCalls(lines []string) counts {
	c := counts{}
	for _, l := range lines {
		src, cmd, ok := parseMonitorLine(l)
		if ok && src == "lua" {
			c[cmd]++
		}
	}
	return c
}

// parseMonitorLine splits `1700000000.123 [0 127.0.0.1:5000] "get" "k"`
// into the source ("127.0.0.1:5000", or "lua") and the command ("get").
func parseMonitorLine(l string) (source, cmd string, ok bool) {
	open := strings.Index(l, "[")
	end := strings.Index(l, "]")
	if open < 0 || end < open {
		return "", "", false
	}
	_, source, _ = strings.Cut(l[open+1:end], " ")
	rest := strings.TrimSpace(l[end+1:])
	if !strings.HasPrefix(rest, `"`) {
		return "", "", false
	}
	q := strings.Index(rest[1:], `"`)
	if q < 0 {
		return "", "", false
	}
	return source, strings.ToLower(rest[1 : q+1]), true
}
