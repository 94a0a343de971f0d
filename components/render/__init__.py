"""Pure renderers: catalogue values in, configuration file text out (no Pulumi here).

Each file is checked in the tests by the program that reads it (`caddy validate`,
`promtool check config`, YAML/JSON parsers for the rest), so a renderer change that the
consumer would reject fails the tests, not the deployment.
"""
