// oclif's own `help` command, bundled with the oclif the other commands use (one copy of it loaded).
import {commands} from '@oclif/plugin-help'

export default commands.help
