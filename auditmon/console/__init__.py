"""What the command line prints on a terminal or into a pipe (rich): the headless
summary."""
