// Command redline-peer-porcupine checks register histories with Porcupine, for
// scripts/bench-porcupine-etcd.sh and scripts/bench-linearizable.sh.
//
// By default it reads Jepsen etcd register logs (Porcupine's test_data/jepsen/etcd_NNN.log)
// the way Porcupine's own porcupine_test.go does (parseJepsenLog: the same line patterns,
// `:fail :read :timed-out` as an unknown return, every op still pending at the end given an
// unknown return) and checks them with CheckEventsTimeout against the etcd model of that
// test. With -jsonl it reads redline JSONL histories instead (see jsonl.go). It prints one
// tab-separated line per file:
//
//	porcupine  file=etcd_000.log  valid=false  events=340  parse_ms=0.21  check_ms=1.37
//
// valid is true, false or unknown (timeout). check_ms is the mean over -repeat runs.
// This file is redline's; Porcupine itself is not part of redline's repository.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

type etcdInput struct {
	op   uint8 // 0 read, 1 write, 2 cas
	arg1 int   // write value, or cas from
	arg2 int   // cas to
}

type etcdOutput struct {
	ok      bool // cas succeeded
	exists  bool // read found a value
	value   int  // read value
	unknown bool // timed out / never returned
}

const absent = -1000000 // the model's nil

// etcdModel is the model of Porcupine's etcd Jepsen test.
var etcdModel = porcupine.Model{
	Init: func() interface{} { return absent },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st := state.(int)
		inp := input.(etcdInput)
		out := output.(etcdOutput)
		switch inp.op {
		case 0:
			ok := (!out.exists && st == absent) || (out.exists && st == out.value) || out.unknown
			return ok, state
		case 1:
			return true, inp.arg1
		default:
			ok := (inp.arg1 == st && out.ok) || (inp.arg1 != st && !out.ok) || out.unknown
			result := st
			if inp.arg1 == st {
				result = inp.arg2
			}
			return ok, result
		}
	},
}

var (
	head        = `^INFO\s+jepsen\.util\s+-\s+(\d+)\s+`
	invokeRead  = regexp.MustCompile(head + `:invoke\s+:read\s+nil$`)
	invokeWrite = regexp.MustCompile(head + `:invoke\s+:write\s+(\d+)$`)
	invokeCas   = regexp.MustCompile(head + `:invoke\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	returnRead  = regexp.MustCompile(head + `:ok\s+:read\s+(nil|\d+)$`)
	returnWrite = regexp.MustCompile(head + `:ok\s+:write\s+(\d+)$`)
	returnCas   = regexp.MustCompile(head + `:(ok|fail)\s+:cas\s+\[(\d+)\s+(\d+)\]$`)
	timeoutRead = regexp.MustCompile(head + `:fail\s+:read\s+:timed-out$`)
)

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func parse(path string) ([]porcupine.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []porcupine.Event
	id := 0
	pending := map[int]int{} // process -> id of its pending call
	call := func(proc int, in etcdInput) {
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.CallEvent, Value: in, Id: id})
		pending[proc] = id
		id++
	}
	ret := func(proc int, out etcdOutput) {
		match := pending[proc]
		delete(pending, proc)
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: out, Id: match})
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := invokeRead.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), etcdInput{op: 0})
		} else if m := invokeWrite.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), etcdInput{op: 1, arg1: atoi(m[2])})
		} else if m := invokeCas.FindStringSubmatch(line); m != nil {
			call(atoi(m[1]), etcdInput{op: 2, arg1: atoi(m[2]), arg2: atoi(m[3])})
		} else if m := returnRead.FindStringSubmatch(line); m != nil {
			out := etcdOutput{}
			if m[2] != "nil" {
				out.exists, out.value = true, atoi(m[2])
			}
			ret(atoi(m[1]), out)
		} else if m := returnWrite.FindStringSubmatch(line); m != nil {
			ret(atoi(m[1]), etcdOutput{})
		} else if m := returnCas.FindStringSubmatch(line); m != nil {
			ret(atoi(m[1]), etcdOutput{ok: m[2] == "ok"})
		} else if m := timeoutRead.FindStringSubmatch(line); m != nil {
			ret(atoi(m[1]), etcdOutput{unknown: true})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for proc, match := range pending {
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: etcdOutput{unknown: true}, Id: match})
	}
	return events, nil
}

func main() {
	repeat := flag.Int("repeat", 1, "check each file this many times; check_ms is the mean")
	timeout := flag.Duration("timeout", 0, "per-check timeout (0: none)")
	jsonl := flag.Bool("jsonl", false, "read redline JSONL register histories, not etcd logs")
	flag.Parse()
	status := 0
	for _, path := range flag.Args() {
		t0 := time.Now()
		var check func() porcupine.CheckResult
		var size int
		if *jsonl {
			ops, err := parseJSONL(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				status = 2
				continue
			}
			check = func() porcupine.CheckResult {
				return porcupine.CheckOperationsTimeout(registerModel, ops, *timeout)
			}
			size = 2 * len(ops)
		} else {
			events, err := parse(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				status = 2
				continue
			}
			check = func() porcupine.CheckResult {
				return porcupine.CheckEventsTimeout(etcdModel, events, *timeout)
			}
			size = len(events)
		}
		parsed := time.Since(t0)
		var res porcupine.CheckResult
		t1 := time.Now()
		for i := 0; i < *repeat; i++ {
			res = check()
		}
		checked := time.Since(t1) / time.Duration(*repeat)
		valid := map[porcupine.CheckResult]string{porcupine.Ok: "true", porcupine.Illegal: "false"}[res]
		if valid == "" {
			valid = "unknown"
		}
		fmt.Printf("porcupine\tfile=%s\tvalid=%s\tevents=%d\tparse_ms=%.3f\tcheck_ms=%.3f\n",
			filepath.Base(path), valid, size,
			float64(parsed.Microseconds())/1000, float64(checked.Nanoseconds())/1e6)
	}
	os.Exit(status)
}
