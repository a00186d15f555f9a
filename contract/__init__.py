"""The floor every other package stands on: the data contract (``contract.sample``) and the flow convention's ops
(``contract.flow``). It imports nothing of the project; ``datamodules``, ``models``, ``losses``, ``metrics`` and
``lightning_modules`` all import from it (``docs/DESIGN.md``, "One direction of imports")."""
