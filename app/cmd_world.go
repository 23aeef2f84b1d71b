package app

func init() {
	Register(Command{
		Name:    "world",
		Summary: "Kata World: render exemplar sets and sheets, judge images, train the built-in model",
		Run:     worldGroup.run,
	})
}

// worldCommand is one `kata world` sub-command.
type worldCommand = subcommand

// worldGroup holds the `kata world` sub-commands; worldCommands is its table.
var (
	worldGroup    = newCommandGroup("world")
	worldCommands = worldGroup.subs
)

// registerWorld adds a `kata world` sub-command; a duplicate is a programming error.
func registerWorld(c worldCommand) { worldGroup.add(c) }
