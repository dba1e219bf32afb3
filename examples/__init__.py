"""Runnable examples. Each module builds an agent (or a factory) that ``patter-core serve`` runs::

    patter-core serve examples.receptionist:make_agent --webhook-url agent.example.com

and each one is exercised by ``tests/examples/test_examples.py`` against the simulators and the
vendors' fakes, so they cannot silently rot.
"""
