package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
	"github.com/evanw/esbuild/pkg/api"
	"github.com/go-sourcemap/sourcemap"
)

// The calls Run records.
const (
	// MethodReplaceUser is UserController.get().replaceUser(user).
	MethodReplaceUser = "replaceUser"
	// MethodUpsert is getPersistence({dbname}).upsert({type, values, matcher}).
	MethodUpsert = "upsert"
	// MethodReplace is getPersistence({dbname}).replace({type, values, matcher}).
	MethodReplace = "replace"
	// MethodRemoveDatabase is PersistenceFactory.removeDatabase({dbname}).
	MethodRemoveDatabase = "removeDatabase"
)

// The methods of the handler class, in the order the legacy tool calls
// them.
const (
	PhaseCleanup = "cleanup"
	PhaseRun     = "run"
)

// DefaultName is the file name positions are reported in.
const DefaultName = "Handler.ts"

// DefaultTimeout bounds the evaluation of one handler.
const DefaultTimeout = time.Second

// maxCallStack bounds the recursion of a handler.
const maxCallStack = 1000

// Call is one recorded call of a stand-in.
type Call struct {
	Phase  string // PhaseCleanup or PhaseRun
	Method string // MethodReplaceUser, MethodUpsert, MethodReplace or MethodRemoveDatabase
	// Database is the dbname given to getPersistence (upsert, replace) or
	// to removeDatabase; "" when none was given.
	Database string
	// Arg is the call's argument as JSON, object keys in JavaScript's
	// order: the user of replaceUser, the {type, values, matcher} of upsert
	// and replace; nil for removeDatabase. A created or modified field set
	// to new Date() is left out (the legacy tool drops both). It may hold a
	// plain-text password: never log it.
	Arg          json.RawMessage
	Line, Column int // the call's position in the TypeScript source, 1-based
}

// Error is a handler that cannot be evaluated, or that does something other
// than the recorded calls. Its message never contains an argument's value.
type Error struct {
	File         string
	Line, Column int // 1-based; 0 when unknown
	Msg          string
}

// Error renders "Handler.ts:12:5: msg".
func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			loc += ":" + strconv.Itoa(e.Column)
		}
	}
	return loc + ": " + e.Msg
}

// Options tunes Run. The zero value means the defaults.
type Options struct {
	Name    string        // file name for positions; default DefaultName
	Timeout time.Duration // default DefaultTimeout
}

// The values the evaluation is interrupted with.
var (
	errTimeout = errors.New("time bound reached")
	errMemory  = errors.New("memory bound reached")
)

// MaxHeapGrowth bounds how much the Go heap may grow while a handler runs
// (a real handler needs well under a MiB), so that a handler filling memory
// is stopped before a small container runs out of it.
const MaxHeapGrowth = 64 << 20

// watchEvery is how often the heap is checked.
const watchEvery = 5 * time.Millisecond

// watch interrupts the script when the time bound is reached or the heap
// has grown by more than MaxHeapGrowth, until done is closed.
func (e *engine) watch(done <-chan struct{}) {
	deadline := time.NewTimer(e.timeout)
	defer deadline.Stop()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	base := heap()
	for {
		select {
		case <-done:
			return
		case <-deadline.C:
			e.vm.Interrupt(errTimeout)
			return
		case <-tick.C:
			if h := heap(); h > base && h-base > MaxHeapGrowth {
				e.vm.Interrupt(errMemory)
				return
			}
		}
	}
}

// Run evaluates the TypeScript source of a handler: it instantiates the
// default export (a class, or an object), awaits its cleanup() and then its
// run(), and returns the calls of the stand-ins in the order they were
// made. Every problem is an *Error. Each call uses its own JavaScript
// runtime; the memory bound (MaxHeapGrowth) is on the heap of the whole
// process, so run handlers one at a time.
func Run(src []byte, opts *Options) ([]Call, error) {
	name, timeout := DefaultName, DefaultTimeout
	if opts != nil && opts.Name != "" {
		name = opts.Name
	}
	if opts != nil && opts.Timeout > 0 {
		timeout = opts.Timeout
	}
	prg, sm, err := compile(src, name)
	if err != nil {
		return nil, err
	}
	e := &engine{vm: goja.New(), name: name, timeout: timeout, sm: sm}
	e.vm.SetMaxCallStackSize(maxCallStack)
	e.setup()
	done := make(chan struct{})
	defer close(done)
	go e.watch(done)
	if _, err := e.vm.RunProgram(prg); err != nil {
		return nil, e.failure(err)
	}
	h, err := e.instance()
	if err != nil {
		return nil, err
	}
	for _, phase := range []string{PhaseCleanup, PhaseRun} {
		if err := e.invoke(h, phase); err != nil {
			return nil, err
		}
	}
	return e.calls, nil
}

// compile strips the types of src with esbuild (CommonJS output, with a
// source map that maps positions back to the TypeScript source) and
// compiles the result.
func compile(src []byte, name string) (*goja.Program, *sourcemap.Consumer, error) {
	res := api.Transform(string(src), api.TransformOptions{
		Loader:         api.LoaderTS,
		Format:         api.FormatCommonJS,
		Target:         api.ES2020,
		Platform:       api.PlatformNeutral,
		Sourcemap:      api.SourceMapExternal,
		SourcesContent: api.SourcesContentExclude,
		Sourcefile:     name,
		LogLevel:       api.LogLevelSilent,
	})
	if len(res.Errors) > 0 {
		m := res.Errors[0]
		e := &Error{File: name, Msg: "TypeScript: " + m.Text}
		if m.Location != nil {
			e.Line, e.Column = m.Location.Line, m.Location.Column+1
		}
		return nil, nil, e
	}
	sm, err := sourcemap.Parse(name, res.Map)
	if err != nil {
		return nil, nil, &Error{File: name, Msg: fmt.Sprintf("source map: %v", err)}
	}
	// goja's own source map support is off: it would read a map named in
	// the source from a file, and its columns are off by one.
	ast, err := goja.Parse(name, string(res.Code), parser.WithDisableSourceMaps)
	if err != nil {
		return nil, nil, &Error{File: name, Msg: fmt.Sprintf("JavaScript: %v", err)}
	}
	prg, err := goja.CompileAST(ast, true)
	if err != nil {
		return nil, nil, &Error{File: name, Msg: fmt.Sprintf("JavaScript: %v", err)}
	}
	return prg, sm, nil
}

// mapped returns the position in the TypeScript source of a 1-based
// position in the generated JavaScript, or 0, 0 when the source map has
// none.
func (e *engine) mapped(line, col int) (int, int) {
	_, _, l, c, ok := e.sm.Source(line, col-1)
	if !ok || l <= 0 {
		return 0, 0
	}
	return l, c + 1
}

// engine is the state of one Run.
type engine struct {
	vm      *goja.Runtime
	name    string
	timeout time.Duration
	sm      *sourcemap.Consumer
	phase   string // the handler method being awaited, "" while loading
	calls   []Call
	fail    *Error // the first problem a stand-in found
}

// instance returns the handler object: a new instance of the default
// export when it is a class (or function), the export itself when it is an
// object.
func (e *engine) instance() (*goja.Object, error) {
	mod := e.vm.Get("module").ToObject(e.vm)
	exp := mod.Get("exports")
	var def goja.Value
	if o, ok := exp.(*goja.Object); ok {
		def = o.Get("default")
	}
	if def == nil || goja.IsUndefined(def) || goja.IsNull(def) {
		return nil, &Error{File: e.name, Msg: "no default export; want export default class with run() and cleanup()"}
	}
	if _, ok := goja.AssertConstructor(def); ok {
		h, err := e.vm.New(def)
		if err != nil {
			return nil, e.failure(err)
		}
		return h, nil
	}
	if o, ok := def.(*goja.Object); ok {
		return o, nil
	}
	return nil, &Error{File: e.name, Msg: fmt.Sprintf("the default export is %s; want a class with run() and cleanup()", def.String())}
}

// invoke awaits method of h, when h has it.
func (e *engine) invoke(h *goja.Object, method string) error {
	v := h.Get(method)
	if v == nil || goja.IsUndefined(v) {
		return nil
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return &Error{File: e.name, Msg: fmt.Sprintf("%s is not a method", method)}
	}
	e.phase = method
	res, err := fn(h)
	if err != nil {
		return e.failure(err)
	}
	if e.fail != nil {
		return e.fail
	}
	p, ok := res.Export().(*goja.Promise)
	if !ok {
		return nil
	}
	switch p.State() {
	case goja.PromiseStateRejected:
		return e.rejected(p.Result())
	case goja.PromiseStatePending:
		return &Error{File: e.name, Msg: fmt.Sprintf("%s() did not finish: it awaits something that never settles", method)}
	}
	return nil
}

// failure turns an error of the runtime into an *Error at the innermost
// position in the handler.
func (e *engine) failure(err error) error {
	if e.fail != nil {
		return e.fail
	}
	var (
		intr *goja.InterruptedError
		over *goja.StackOverflowError
		exc  *goja.Exception
	)
	switch {
	case errors.As(err, &intr):
		line, col := e.position(intr.Stack())
		msg := fmt.Sprintf("still running after %s: an endless loop, or more work than a handler does", e.timeout)
		if errors.Is(intr, errMemory) {
			msg = fmt.Sprintf("used more than %d MiB of memory: more data than a handler makes", MaxHeapGrowth>>20)
		}
		return &Error{File: e.name, Line: line, Column: col, Msg: msg}
	case errors.As(err, &over):
		line, col := e.position(over.Stack())
		return &Error{File: e.name, Line: line, Column: col, Msg: "recursion too deep"}
	case errors.As(err, &exc):
		line, col := e.position(exc.Stack())
		return &Error{File: e.name, Line: line, Column: col, Msg: thrown(exc.Value())}
	}
	return &Error{File: e.name, Msg: err.Error()}
}

// rejected turns the rejection of an awaited method into an *Error at the
// position its stack names.
func (e *engine) rejected(reason goja.Value) error {
	if e.fail != nil {
		return e.fail
	}
	out := &Error{File: e.name, Msg: thrown(reason)}
	if o, ok := reason.(*goja.Object); ok {
		if st := o.Get("stack"); st != nil {
			re := regexp.MustCompile(regexp.QuoteMeta(e.name) + `:(\d+):(\d+)`)
			if m := re.FindStringSubmatch(st.String()); m != nil {
				line, _ := strconv.Atoi(m[1])
				col, _ := strconv.Atoi(m[2])
				out.Line, out.Column = e.mapped(line, col)
			}
		}
	}
	return out
}

// thrown describes a thrown value, with a hint for the common cases.
func thrown(v goja.Value) string {
	msg := "threw " + v.String()
	if o, ok := v.(*goja.Object); ok {
		if name := o.Get("name"); name != nil && name.String() == "ReferenceError" {
			return v.String() + ": a handler may use only UserController, PersistenceFactory and Logger"
		}
		if m := o.Get("message"); m != nil && o.Get("name") != nil {
			msg = o.Get("name").String() + ": " + m.String()
		}
	}
	return msg
}

// position returns the innermost position in the handler of a stack.
func (e *engine) position(stack []goja.StackFrame) (line, col int) {
	for _, f := range stack {
		if f.SrcName() == e.name {
			p := f.Position()
			return e.mapped(p.Line, p.Column)
		}
	}
	return 0, 0
}

// here returns the position in the handler of the current call.
func (e *engine) here() (line, col int) {
	return e.position(e.vm.CaptureCallStack(0, nil))
}

// throw records a problem at the current position (the first one wins)
// and throws it into the script.
func (e *engine) throw(format string, args ...any) {
	line, col := e.here()
	msg := fmt.Sprintf(format, args...)
	if e.fail == nil {
		e.fail = &Error{File: e.name, Line: line, Column: col, Msg: msg}
	}
	panic(e.vm.NewGoError(errors.New(msg)))
}
