"""Contract suites for loopml's ports, shipped so that every adapter runs the same tests.

Each module holds the contract of one port as a class of pytest tests; subclass it in
a test module and provide the fixture it names (``blob_store`` for
:class:`loopml.testing.blobs.BlobStoreContract`). pytest is needed only by the code
that imports these modules: ``import loopml`` never imports them.
"""
