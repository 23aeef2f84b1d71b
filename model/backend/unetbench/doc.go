// Package unetbench holds benchmarks of Stable Diffusion UNet steps on the pure-Go
// backend (model/sd's UNet with random weights), comparing Kata's kernels with
// GoMLX's stock executors in the same run. It has no non-test code; it is separate
// from package backend so that backend's tests do not depend on model/sd.
package unetbench
