package conn

import (
	"os"
	"sync"
)

// Cached returns an Env that reads each variable and each file through e
// once and then answers from memory: a preflight reads every secret of a
// run through it before any connection, and the run then uses the values
// the preflight checked, even if a mounted file changes meanwhile. A file
// that could not be read is not kept (it is read again when asked). Safe
// for concurrent use.
func (e Env) Cached() Env {
	c := &envCache{base: e, vars: map[string]string{}, files: map[string][]byte{}}
	return Env{Getenv: c.getenv, ReadFile: c.readFile}
}

// envCache is the memory of Cached.
type envCache struct {
	base  Env
	mu    sync.Mutex
	vars  map[string]string
	files map[string][]byte
}

func (c *envCache) getenv(k string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.vars[k]; ok {
		return v
	}
	v := c.base.get(k)
	c.vars[k] = v
	return v
}

func (c *envCache) readFile(path string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.files[path]; ok {
		return append([]byte(nil), b...), nil
	}
	read := c.base.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	b, err := read(path)
	if err != nil {
		return nil, err
	}
	c.files[path] = append([]byte(nil), b...)
	return b, nil
}
