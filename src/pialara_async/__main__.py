from pialara_async.cli import main

main()
