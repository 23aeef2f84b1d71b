package bench

import (
	"math"
	"time"

	"kata/model/adi"
	"kata/model/sd"
)

// Progress is one report of a run: Done of Total work units. A unit is
// about one UNet forward pass on one sample: an optimiser step of TI or P+
// counts 3 per sample (forward and backward), ADI's three samples 9, a
// guided sampler step 2 per image (a cell's K images run as one batch and
// its units are priced at the batched speed measured), a synthesised
// contrast image 2 per img2img step.
// ETA uses the speed measured so far for each kind of work (sampling,
// contrast synthesis, steps of each method), and the run's overall speed
// per unit for kinds not started yet, so it settles once every kind has
// run (after the first action).
type Progress struct {
	Stage        string // "handstand: training ADI", "handstand: generating with P+", ...
	Done, Total  float64
	Elapsed, ETA time.Duration
}

// StageDone is the Stage of a run's last Progress report, at Done = Total.
const StageDone = "done"

// work is a kind of work whose speed the meter measures apart.
type work string

const (
	workSample   work = "sample"
	workContrast work = "contrast"
)

// stepWork is the kind of an optimiser step of method m.
func stepWork(m Method) work { return work("step " + string(m)) }

// stepUnits is the cost of one optimiser step of method m.
func stepUnits(o Options, m Method) float64 {
	samples := float64(max(o.Train.BatchSize, 1) * max(o.Train.GradAccum, 1))
	if m == MethodADI {
		return 9 * samples
	}
	return 3 * samples
}

// contrastUnits is the cost of the contrast images of one identifier.
func contrastUnits(o Options, m Method) float64 {
	if m != MethodADI {
		return 0
	}
	per, strength := o.Train.Contrast.PerExemplar, o.Train.Contrast.Strength
	if per <= 0 {
		per = adi.DefaultContrastPerExemplar
	}
	if strength <= 0 {
		strength = adi.DefaultContrastStrength
	}
	// Guided img2img runs strength x adi.BaseOptions' default sd.DefaultSteps steps.
	return float64(o.Exemplars*per) * 2 * math.Round(strength*sd.DefaultSteps)
}

// sampleUnits is the cost of one image.
func sampleUnits(o Options) float64 {
	if o.CFG > 1 {
		return 2 * float64(o.SampleSteps)
	}
	return float64(o.SampleSteps)
}

// plannedUnits is the work of a whole run, by kind.
func plannedUnits(o Options) map[work]float64 {
	plan := map[work]float64{}
	n := float64(len(o.Actions))
	for _, m := range o.Methods {
		if m != MethodPrompt {
			plan[workContrast] += n * contrastUnits(o, m)
			plan[stepWork(m)] += n * stepUnits(o, m) * float64(o.Steps)
		}
		plan[workSample] += n * sampleUnits(o) * float64(len(o.Subjects)*o.Images)
	}
	return plan
}

// meter turns work done into Progress reports.
type meter struct {
	plan        map[work]float64
	done        float64 // units done, all kinds, skipped ones included
	total       float64
	kindDone    map[work]float64 // units worked, by kind
	kindTime    map[work]time.Duration
	kindSkip    map[work]float64 // units read from the cache, by kind
	start, last time.Time
	report      func(Progress)
}

func newMeter(o Options, start time.Time, report func(Progress)) *meter {
	m := &meter{plan: plannedUnits(o), kindDone: map[work]float64{}, kindTime: map[work]time.Duration{}, kindSkip: map[work]float64{},
		start: start, last: start, report: report}
	for _, u := range m.plan {
		m.total += u
	}
	return m
}

// set records that the run has reached done units in total, the units since
// the last call and the time since then being work of kind k.
func (m *meter) set(k work, stage string, done float64) {
	now := time.Now()
	done = min(done, m.total)
	m.kindDone[k] += done - m.done
	m.kindTime[k] += now.Sub(m.last)
	m.done, m.last = done, now
	p := Progress{Stage: stage, Done: m.done, Total: m.total, Elapsed: now.Sub(m.start)}
	p.ETA = m.eta()
	m.report(p)
}

// skip records units of kind k found finished in the cache: they count as
// done but not as measured work, and the time since the last call is no
// kind's.
func (m *meter) skip(k work, units float64) {
	m.kindSkip[k] += units
	m.done = min(m.done+units, m.total)
	m.last = time.Now()
}

// eta sums, over kinds, the units left times that kind's measured seconds
// per unit (the overall rate of the work measured so far for kinds with
// nothing measured yet).
func (m *meter) eta() time.Duration {
	var worked float64
	var spent time.Duration
	for k, d := range m.kindDone {
		worked += d
		spent += m.kindTime[k]
	}
	if worked <= 0 {
		return 0
	}
	overall := float64(spent) / worked
	var left float64
	for k, planned := range m.plan {
		rest := planned - m.kindDone[k] - m.kindSkip[k]
		if rest <= 0 {
			continue
		}
		rate := overall
		if d := m.kindDone[k]; d > 0 {
			rate = float64(m.kindTime[k]) / d
		}
		left += rest * rate
	}
	return time.Duration(left)
}

// finish reports the end of the run.
func (m *meter) finish() {
	now := time.Now()
	m.done, m.last = m.total, now
	m.report(Progress{Stage: StageDone, Done: m.total, Total: m.total, Elapsed: now.Sub(m.start)})
}
