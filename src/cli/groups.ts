// Command groups (`kep train …`, `kep eval …`, `kep knowledge …`) are shared by several modules;
// each module asks for the group here instead of creating it, so registration order never matters.
import type { Command } from 'commander';

export function commandGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}
