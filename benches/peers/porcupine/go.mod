module redline-peer-porcupine

go 1.19

require github.com/anishathalye/porcupine v0.0.0

// scripts/bench-porcupine-etcd.sh points this at PORCUPINE_DIR (a checkout of Porcupine).
replace github.com/anishathalye/porcupine => ../../../porcupine-not-vendored
