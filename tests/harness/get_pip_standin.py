# ansible-test bootstraps pip into its venvs with a script it downloads; build
# machines without that host get this stand-in, which uses the standard library.
import ensurepip
import sys

sys.exit(ensurepip._main(["--upgrade", "--default-pip"]))
